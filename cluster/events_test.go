package cluster_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/keyspace"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// Where CONFIG is refused (a managed service), Watch cannot turn expired
// events on. If the server's configuration has them, Watch says nothing and
// reports expiries; if it does not, Watch says so once per subscription,
// naming the setting.
func TestWatchWithoutConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		notify string
	}{
		{"configured", "Ex"},
		{"not configured", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1,
				Args: []string{"--rename-command", "CONFIG", "", "--notify-keyspace-events", tc.notify}})
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

			if tc.notify != "" {
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
				redistest.Sleep(context.Background(), 3*time.Second) // past the probe's wait: nothing more may come
				mu.Lock()
				defer mu.Unlock()
				if len(errs) != 0 {
					t.Fatalf("Watch reported %v on a server whose configuration has expired events", errs)
				}
				return
			}
			redistest.Eventually(t, 10*time.Second, func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				if len(errs) == 0 {
					return errors.New("nothing reported yet")
				}
				return nil
			})
			redistest.Sleep(context.Background(), 3*time.Second) // one report per subscription, not one per probe or poll
			mu.Lock()
			defer mu.Unlock()
			if len(errs) != 1 || !errors.Is(errs[0], keyspace.ErrExpiredEventsOff) || !strings.Contains(errs[0].Error(), "notify-keyspace-events") {
				t.Fatalf("reported %v, want one error naming notify-keyspace-events", errs)
			}
		})
	}
}
