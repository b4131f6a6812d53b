package failover_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
)

// A Watcher that loses its subscription on a sentinel (the sentinel is
// killed and restarted) says so once it follows it again, so that its listener can ask
// which node is primary: a switch announced meanwhile went unheard.
func TestWatcherReportsResubscription(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Sentinels: 1})
	events := make(chan failover.Event, 16)
	w, err := failover.Watch(failover.Options{MasterName: top.Shards[0].Name, SentinelAddrs: top.SentinelAddrs()}, func(ev failover.Event) { events <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Wait until the Watcher is subscribed, then kill and restart the
	// sentinel.
	sc := redis.NewClient(&redis.Options{Addr: top.Sentinels[0].Addr()})
	defer sc.Close()
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		list, err := sc.Do(ctx, "CLIENT", "LIST").Text()
		if err != nil {
			return err
		}
		if !strings.Contains(list, " flags=P ") {
			return fmt.Errorf("no subscriber yet: %s", list)
		}
		return nil
	})
	if err := top.Sentinels[0].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := top.Sentinels[0].Restart(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-events:
			if ev.Kind == failover.Resubscribed {
				if ev.MasterName != top.Shards[0].Name {
					t.Fatalf("event %+v", ev)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no Resubscribed event after the sentinel restarted")
		}
	}
}
