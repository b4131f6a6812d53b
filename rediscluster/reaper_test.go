package rediscluster

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The pooled connections a burst opened to a master are closed once they
// have carried nothing for ConnMaxIdleTime: every node client the
// ClusterClient makes is watched.
func TestIdleConnectionsAreClosed(t *testing.T) {
	const idle = 400 * time.Millisecond
	c := newCluster(t, Options{Client: &redis.ClusterOptions{ClientName: "idle-reaped", ConnMaxIdleTime: idle}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := c.Key("burst")
	master, err := c.client.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: master.Options().Addr})
	defer admin.Close()
	named := func() int {
		t.Helper()
		list, err := admin.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(list, " name=idle-reaped ")
	}
	// Scripts sent at once to one master each wait their turn on a
	// connection of their own.
	const width = 16
	var wg sync.WaitGroup
	for range width {
		wg.Go(func() {
			if err := c.client.Eval(ctx, "local i = 0 while i < 300000 do i = i + 1 end return i", []string{key}).Err(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := named(); n < width/2 {
		t.Fatalf("%d connections on the master after a burst of %d scripts", n, width)
	}
	for end := time.Now().Add(20 * idle); named() > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d connections still open %v after the burst", named(), 20*idle)
		}
	}
	if err := c.client.Set(ctx, key, "after", 0).Err(); err != nil {
		t.Fatalf("a command after the connections were closed: %v", err)
	}
}
