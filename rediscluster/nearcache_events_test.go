package rediscluster

import (
	"context"
	"strconv"
	"strings"
	"testing"
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
	if err := nc.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkEventsFromEveryMaster(t, c, nc.Watch, func(ctx context.Context) {
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
	})
}
