package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
)

// sentinelOps is what Run needs of an Env whose shards are watched by
// sentinels, for such an Env to embed: its methods find the sentinels
// through env.
type sentinelOps struct{ env SentinelEnv }

func (sentinelOps) Backend() string { return SentinelBackend }

// Open returns a cluster.Cluster that follows the sentinels.
func (o sentinelOps) Open(opt ClientOptions) (Client, error) {
	c, err := cluster.New(cluster.Options{
		Shards:     clustertest.SentinelShards(o.env.Shards(), o.env.SentinelAddrs()),
		Durability: cluster.Durability{SaveReplicas: opt.SaveReplicas, DeleteReplicas: opt.DeleteReplicas},
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: sentinel client: %w", err)
	}
	return c, nil
}

// WaitPromoted polls the sentinels until one names a primary other than
// old for shard.
func (o sentinelOps) WaitPromoted(ctx context.Context, shard, old string) error {
	clients := make([]*redis.SentinelClient, 0, len(o.env.SentinelAddrs()))
	for _, a := range o.env.SentinelAddrs() {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a, DisableIdentity: true, MaxRetries: -1, ReadTimeout: 500 * time.Millisecond})
		defer sc.Close()
		clients = append(clients, sc)
	}
	return redistest.Poll(ctx, func(ctx context.Context) error {
		for _, sc := range clients {
			hp, err := sc.GetMasterAddrByName(ctx, shard).Result()
			if err == nil && len(hp) == 2 && hp[0]+":"+hp[1] != old {
				return nil
			}
		}
		return errors.New("sentinels still name the old primary")
	})
}

// Explain returns what each sentinel names as shard's primary.
func (o sentinelOps) Explain(ctx context.Context, shard string) string {
	var views []string
	for _, a := range o.env.SentinelAddrs() {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a})
		hp, err := sc.GetMasterAddrByName(ctx, shard).Result()
		sc.Close()
		views = append(views, fmt.Sprint(hp, err))
	}
	return fmt.Sprintf("sentinels say %v", views)
}
