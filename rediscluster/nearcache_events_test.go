package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// A NearCache's Watch delivers what Cluster.Watch does — published events
// once each, whichever master owns the session, and each master's expired
// keys, named by that master — on the near cache's tracking connections:
// no subscriber on any node is other than a tracking connection.
func TestNearCacheWatch(t *testing.T) {
	c := newCluster(t, Options{})
	nc, err := NewNearCache(c, NearCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := nc.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string][]store.Event{}
	watched := make(chan error, 1)
	go func() {
		watched <- nc.Watch(ctx, func(e store.Event) {
			mu.Lock()
			got[e.ID] = append(got[e.ID], e)
			mu.Unlock()
		}, nil)
	}()
	byMaster := idsOnEveryMaster(t, c, 3)
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		for _, ids := range byMaster {
			if err := nc.Publish(ctx, store.Event{Kind: store.Created, ID: ids[0]}); err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ids := range byMaster {
			if len(got[ids[0]]) == 0 {
				return fmt.Errorf("no event for %s yet", ids[0])
			}
		}
		return nil
	})
	// Subscribed now: one publish gives exactly one event per ID.
	for _, ids := range byMaster {
		if err := nc.Publish(ctx, store.Event{Kind: store.Renewed, ID: ids[2], OldID: "old"}); err != nil {
			t.Fatal(err)
		}
		create(t, c, ids[1], time.Now().Add(100*time.Millisecond))
	}
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		for m, ids := range byMaster {
			if e := got[ids[2]]; len(e) != 1 || e[0].Kind != store.Renewed || e[0].OldID != "old" || e[0].Shard != m {
				return fmt.Errorf("events for %s: %+v", ids[2], e)
			}
			if len(got[ids[1]]) != 1 || got[ids[1]][0].Kind != store.Expired || got[ids[1]][0].Shard != m {
				return fmt.Errorf("expiry of %s on %s: %+v", ids[1], m, got[ids[1]])
			}
		}
		return nil
	})
	for _, s := range shared.Nodes {
		nodeClient := s.Client()
		list, err := nodeClient.ClientList(ctx).Result()
		nodeClient.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
			subs := 0
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "sub="); ok {
					subs, _ = strconv.Atoi(v)
				}
			}
			if subs > 0 && !strings.Contains(line, " name=shardsession-tracking ") {
				t.Errorf("%s: a subscriber besides the tracking connections: %s", s.Name, line)
			}
		}
	}
	cancel()
	if err := <-watched; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch = %v, want context.Canceled", err)
	}
}
