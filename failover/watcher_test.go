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

// Watchers of two masters on the same sentinel share one subscription, and
// each hears only its own master's switch.
func TestWatchersShareASubscription(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1, Sentinels: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events := map[string]chan failover.Event{}
	for _, sh := range top.Shards {
		ch := make(chan failover.Event, 16)
		events[sh.Name] = ch
		w, err := failover.Watch(failover.Options{MasterName: sh.Name, SentinelAddrs: top.SentinelAddrs()}, func(ev failover.Event) { ch <- ev })
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
	}
	sc := redis.NewClient(&redis.Options{Addr: top.Sentinels[0].Addr()})
	defer sc.Close()
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		list, err := sc.Do(ctx, "CLIENT", "LIST").Text()
		if err != nil {
			return err
		}
		if n := strings.Count(list, " flags=P "); n != 1 {
			return fmt.Errorf("%d subscribers, want 1: %s", n, list)
		}
		return nil
	})
	s1 := top.Shards[1].Name
	sentinel := top.Sentinels[0].Client()
	defer sentinel.Close()
	if err := sentinel.Failover(ctx, s1).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events[s1]:
		if ev.Kind != failover.SwitchMaster || ev.MasterName != s1 {
			t.Fatalf("%s heard %+v", s1, ev)
		}
	case <-ctx.Done():
		t.Fatalf("%s heard no switch", s1)
	}
	select {
	case ev := <-events[top.Shards[0].Name]:
		t.Fatalf("%s heard %+v", top.Shards[0].Name, ev)
	default:
	}
}
