package rediscluster

import (
	"context"
	"testing"
)

// keySlot agrees with the cluster's CLUSTER KEYSLOT, hash tags included.
func TestKeySlot(t *testing.T) {
	c := newCluster(t, Options{})
	keys := []string{"", "a", "shardsession:abc", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "x{", c.journalKey(0)}
	for _, tag := range journalTags {
		keys = append(keys, "p:revoked:{"+tag+"}")
	}
	for _, k := range keys {
		want, err := c.client.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := keySlot(k); int64(got) != want {
			t.Errorf("keySlot(%q) = %d, want %d", k, got, want)
		}
	}
	for i, tag := range journalTags {
		if s := keySlot(tag); s*len(journalTags)/slotCount != i {
			t.Errorf("journal tag %d %q hashes to slot %d, outside its sixteenth", i, tag, s)
		}
	}
}
