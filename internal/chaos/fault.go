package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// Injecting faults and waiting for the topology to recover from them.

// setMinReplicas sets min-replicas-to-write on every data node.
func setMinReplicas(ctx context.Context, env Env, n int) error {
	for _, name := range env.Shards() {
		for _, node := range nodes(env, name) {
			c := node.Client()
			err := c.ConfigSet(ctx, "min-replicas-to-write", strconv.Itoa(n)).Err()
			if err == nil {
				err = c.ConfigSet(ctx, "min-replicas-max-lag", "2").Err()
			}
			c.Close()
			if err != nil {
				return fmt.Errorf("chaos: min-replicas-to-write on %s: %w", node.Addr(), err)
			}
		}
	}
	return nil
}

// nodes returns the primary and the replicas a shard started with.
func nodes(env Env, shard string) []Node {
	return append([]Node{env.Primary(shard)}, env.Replicas(shard)...)
}

// inject applies the fault and returns the node it hurt.
func inject(ctx context.Context, env Env, s Scenario, burst *logoutBurst) (Node, error) {
	primary := env.Primary(s.Shard)
	switch s.Fault {
	case KillPrimary:
		return primary, primary.Kill()
	case KillReplica:
		r := env.Replicas(s.Shard)[0]
		return r, r.Kill()
	case PausePrimary, PartitionPrimary:
		hurt, heal := primary.Pause, primary.Resume
		if s.Fault == PartitionPrimary {
			hurt, heal = primary.Partition, primary.Heal
		}
		if err := hurt(); err != nil {
			return nil, err
		}
		// Keep it away until the sentinels or the cluster have promoted
		// another node, then bring it back: it must rejoin as a replica.
		wctx, cancel := context.WithTimeout(ctx, s.Deadline)
		err := env.WaitPromoted(wctx, s.Shard, primary.Addr())
		cancel()
		if herr := heal(); err == nil {
			err = herr
		}
		return primary, err
	case LogoutThenKill:
		return primary, burst.run(ctx, env, s)
	}
	return nil, fmt.Errorf("chaos: unknown fault %d", s.Fault)
}

// waitWritable polls a write to the probe session until it succeeds.
func waitWritable(ctx context.Context, c Client, probe string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error // the last error other than an open breaker, which hides the cause
	err := redistest.Poll(ctx, func(ctx context.Context) error {
		_, err := c.Save(ctx, probe, probeWrite(store.Update))
		if errors.Is(err, store.ErrNotReplicated) {
			err = nil // the primary took it: writes work again
		}
		if err != nil && !errors.Is(err, failover.ErrCircuitOpen) {
			last = err
		}
		return err
	})
	if err != nil && last != nil {
		err = fmt.Errorf("%w (cause: %v)", err, last)
	}
	return err
}

// rejoined polls node until it reports itself a replica with its link up.
func rejoined(ctx context.Context, node Node, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	c := node.Client()
	defer c.Close()
	return redistest.Poll(ctx, func(ctx context.Context) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:slave") || !strings.Contains(info, "master_link_status:up") {
			return errors.New("not a replica with a live link yet")
		}
		return nil
	})
}

// ballast is how much data lagReplica queues in front of the replica:
// more than the kernel's socket buffers hold on loopback, so that what the
// primary writes next stays in the primary's own memory and dies with it.
const ballast = 48 << 20

// LagReplica freezes the replica and queues ballast for it, so that the
// writes that follow are not on their way to it when the primary dies. A
// merely frozen replica still gets them: they wait in its socket buffer.
// Resume the replica to let it catch up with what it did receive.
func LagReplica(ctx context.Context, primary, replica Node) error {
	if err := replica.Pause(); err != nil {
		return err
	}
	c := primary.Client()
	defer c.Close()
	tag, err := ownTag(ctx, c)
	if err != nil {
		return fmt.Errorf("chaos: ballast: %w", err)
	}
	chunk := strings.Repeat("x", 4<<20)
	for i := range ballast / len(chunk) {
		if err := c.Set(ctx, "chaos:ballast:"+tag+":"+strconv.Itoa(i), chunk, time.Minute).Err(); err != nil {
			return fmt.Errorf("chaos: ballast: %w", err)
		}
	}
	return nil
}

// ownTag returns a hash tag whose keys the node c talks to may write: any
// on a Sentinel shard, one of its own slots on a Redis Cluster master,
// which answers MOVED about the others.
func ownTag(ctx context.Context, c *redis.Client) (string, error) {
	for i := range 1 << 16 {
		tag := "{" + strconv.Itoa(i) + "}"
		err := c.Exists(ctx, "chaos:tag:"+tag).Err()
		if err == nil {
			return tag, nil
		}
		if !strings.HasPrefix(err.Error(), "MOVED ") {
			return "", fmt.Errorf("key slot of %s: %w", c.Options().Addr, err)
		}
	}
	return "", fmt.Errorf("%s owns no slot", c.Options().Addr)
}
