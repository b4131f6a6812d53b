package shard_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// The pooled connections a burst opened are closed once they have carried
// nothing for ConnMaxIdleTime, while steady traffic keeps its own and sees
// no error; the next burst runs without error on new ones; and a
// subscription that hears nothing is kept.
func TestIdleConnectionsAreClosed(t *testing.T) {
	const idle = 400 * time.Millisecond
	srv := redistest.NewServer(t, redistest.Options{})
	s, err := shard.New(shard.Options{Name: "s0", Addr: srv.Addr(), NoIdentityCheck: true, Client: &redis.Options{ConnMaxIdleTime: idle}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := srv.Client()
	adminID, err := admin.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	// pooled returns the shard's connections that are not subscribed, and
	// the ids of those that are.
	pooled := func() (n int, subscribers []string) {
		t.Helper()
		list, err := admin.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(strings.TrimSpace(list)) {
			fields := strings.Fields(line)
			if len(fields) == 0 || fields[0] == "id="+strconv.FormatInt(adminID, 10) {
				continue
			}
			if strings.Contains(line, " sub=0 ") {
				n++
			} else {
				subscribers = append(subscribers, fields[0])
			}
		}
		return n, subscribers
	}

	ps := s.Primary().Subscribe(ctx, "quiet")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := ps.Channel()
	_, subs := pooled()
	if len(subs) != 1 {
		t.Fatalf("subscribers %v, want one", subs)
	}

	burst := func() {
		t.Helper()
		const width = 16
		var ready, release sync.WaitGroup
		ready.Add(width)
		release.Add(1)
		errs := make(chan error, width)
		for range width {
			go func() {
				c := s.Primary().Conn() // holds a pooled connection until closed
				defer c.Close()
				errs <- c.Ping(ctx).Err()
				ready.Done()
				release.Wait()
			}()
		}
		ready.Wait()
		release.Done()
		for range width {
			if err := <-errs; err != nil {
				t.Errorf("a command of the burst: %v", err)
			}
		}
	}
	burst()
	if n, _ := pooled(); n < 16 {
		t.Fatalf("%d pooled connections after a burst of 16", n)
	}

	// Steady traffic: one command every 50 ms, on one connection.
	var steadyErrs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := s.Primary().Ping(ctx).Err(); err != nil {
				steadyErrs.Add(1)
				t.Logf("steady traffic: %v", err)
			}
		}
	})
	stopSteady := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopSteady()
	for end := time.Now().Add(20 * idle); ; time.Sleep(50 * time.Millisecond) {
		n, _ := pooled()
		if n <= 2 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d pooled connections %v after the burst, want the steady traffic's alone", n, 20*idle)
		}
	}
	burst() // on the pool's new connections: none closed under a command
	stopSteady()
	if n := steadyErrs.Load(); n != 0 {
		t.Errorf("%d errors in the steady traffic", n)
	}

	// The subscription, quiet all along, is the one it was.
	if _, now := pooled(); len(now) != 1 || now[0] != subs[0] {
		t.Errorf("subscribers %v, want %v: the quiet subscription was closed", now, subs)
	}
	if err := admin.Publish(ctx, "quiet", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if m.Payload != "hello" {
			t.Errorf("message %q", m.Payload)
		}
	case <-ctx.Done():
		t.Fatal("the quiet subscription heard nothing")
	}
}
