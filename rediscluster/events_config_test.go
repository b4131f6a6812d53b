package rediscluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/keyspace"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/rediscluster"
	"github.com/shardsession/shardsession/store"
)

// On a cluster whose nodes refuse CONFIG, Watch asks each master itself
// whether expired events are on: where the configuration has them it
// reports expiries and no error; where it does not, one error per master
// names the setting.
func TestWatchWithoutConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		notify string
	}{
		{"configured", "Ex"},
		{"not configured", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := clustertest.NewRedisCluster(t, redistest.RedisClusterOptions{Masters: 3, Replicas: -1,
				Args: []string{"--rename-command", "CONFIG", "", "--notify-keyspace-events", tc.notify}},
				rediscluster.Options{Durability: rediscluster.Durability{DeleteReplicas: -1}})
			var mu sync.Mutex
			var errs []error
			expired := map[string]bool{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.Watch(ctx, func(e store.Event) {
					if e.Kind == store.Expired {
						mu.Lock()
						expired[e.ID] = true
						mu.Unlock()
					}
				}, func(err error) {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				})
			}()
			defer func() { cancel(); <-done }()
			off := func() (n int) {
				mu.Lock()
				defer mu.Unlock()
				for _, err := range errs {
					if errors.Is(err, keyspace.ErrExpiredEventsOff) {
						n++
					}
				}
				return n
			}
			if tc.notify == "" {
				redistest.Eventually(t, 10*time.Second, func(context.Context) error {
					if off() < 3 {
						return errors.New("not every master reported yet")
					}
					return nil
				})
				redistest.Sleep(context.Background(), 3*time.Second) // once per subscription, no more
				if n := off(); n != 3 {
					t.Fatalf("%d reports that expired events are off, want one per master (3)", n)
				}
				return
			}
			redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
				if _, err := c.Save(ctx, "short", store.Write{Mode: store.Create, ExpireAt: time.Now().Add(50 * time.Millisecond)}); err != nil && !errors.Is(err, store.ErrExists) {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				if !expired["short"] {
					return errors.New("no Expired event yet")
				}
				return nil
			})
			redistest.Sleep(context.Background(), 3*time.Second) // past the probes' wait
			if n := off(); n != 0 {
				t.Fatalf("%d reports that expired events are off, on masters whose configuration has them", n)
			}
		})
	}
}
