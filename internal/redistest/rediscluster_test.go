package redistest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestRedisClusterRolesAndFailover(t *testing.T) {
	rc := NewRedisCluster(t, RedisClusterOptions{})
	ctx := context.Background()
	masters, err := rc.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Nodes) != 6 || len(masters) != 3 {
		t.Fatalf("%d nodes, %d masters; want 6, 3", len(rc.Nodes), len(masters))
	}
	old, err := rc.MasterForKey(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if role, err := rc.Role(ctx, old); err != nil || role != "master" {
		t.Fatalf("role of %s = %q, %v", old.Name, role, err)
	}
	if reps, err := rc.ReplicasOf(ctx, old); err != nil || len(reps) != 1 {
		t.Fatalf("replicas of %s = %v, %v; want 1", old.Name, reps, err)
	}
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 20*time.Second, func(ctx context.Context) error {
		if err := rc.WaitOK(ctx); err != nil {
			return err
		}
		m, err := rc.MasterForKey(ctx, "k")
		if err != nil {
			return err
		}
		if m == old {
			return fmt.Errorf("slot still on the killed %s", old.Name)
		}
		return nil
	})
}
