package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/shard"
)

// The topology record: how a fleet of web nodes agrees on the topology.
// The coordinator (Reshard) writes it to every shard of the old and the new
// ring; each node (Follow) polls it from one of its shards and acknowledges
// the stage it routes by on that shard. Keys, all under KeyPrefix + "~":
//
//	~topology  hash: stage → the record's stage (see stage), record → JSON
//	~nodes     hash: node ID → the stage the node routes by
//	~seen      sorted set: node ID, scored by the (server) time its
//	           acknowledgement expires, unix ms

// record is the stored form of a Topology: shard addresses only, no client
// settings (each node applies its own, see FollowOptions.Template).
type record struct {
	Epoch    int64         `json:"epoch"`
	Phase    Phase         `json:"phase"`
	Shards   []recordShard `json:"shards"`
	Ring     RingOptions   `json:"ring"`
	Prev     []recordShard `json:"prev,omitempty"`
	PrevRing RingOptions   `json:"prevRing"`
	Mover    Mover         `json:"mover,omitempty"`
}

type recordShard struct {
	Name      string   `json:"name"`
	Addr      string   `json:"addr,omitempty"`
	Replicas  []string `json:"replicas,omitempty"`
	Master    string   `json:"master,omitempty"`
	Sentinels []string `json:"sentinels,omitempty"`
}

func toRecord(t Topology) record {
	conv := func(opts []shard.Options) []recordShard {
		out := make([]recordShard, len(opts))
		for i, o := range opts {
			out[i] = recordShard{Name: o.Name, Addr: o.Addr, Replicas: o.Replicas}
			if o.Sentinel != nil {
				out[i].Master, out[i].Sentinels = o.Sentinel.MasterName, o.Sentinel.SentinelAddrs
			}
		}
		return out
	}
	return record{Epoch: t.Epoch, Phase: t.Phase, Shards: conv(t.Shards), Ring: t.Ring, Prev: conv(t.Prev), PrevRing: t.PrevRing, Mover: t.Mover}
}

// topology turns r back into a Topology. Shards the cluster already has keep
// their local options; others get tmpl's client settings.
func (r record) topology(have map[string]held, tmpl shard.Options) Topology {
	conv := func(rs []recordShard) []shard.Options {
		if len(rs) == 0 {
			return nil
		}
		out := make([]shard.Options, len(rs))
		for i, s := range rs {
			if h, ok := have[s.Name]; ok && h.opt.Addr == s.Addr {
				out[i] = h.opt
				continue
			}
			o := tmpl
			o.Name, o.Addr, o.Replicas, o.Sentinel = s.Name, s.Addr, s.Replicas, nil
			if s.Master != "" {
				sen := failover.Options{}
				if tmpl.Sentinel != nil {
					sen = *tmpl.Sentinel
				}
				sen.MasterName, sen.SentinelAddrs = s.Master, s.Sentinels
				o.Sentinel = &sen
			}
			out[i] = o
		}
		return out
	}
	return Topology{Epoch: r.Epoch, Phase: r.Phase, Shards: conv(r.Shards), Ring: r.Ring, Prev: conv(r.Prev), PrevRing: r.PrevRing, Mover: r.Mover}
}

// publishScript stores a record unless the shard holds a later one, or a
// different one of the same stage (another coordinator's change).
//
// KEYS[1] topology key; ARGV[1] stage; ARGV[2] record JSON.
// Returns 1 if stored (or already there), 0 if refused.
var publishScript = redis.NewScript(`
local cur = redis.call("HMGET", KEYS[1], "stage", "record")
local s = tonumber(cur[1] or "-1")
local want = tonumber(ARGV[1])
if s > want or (s == want and cur[2] ~= ARGV[2]) then return 0 end
redis.call("HSET", KEYS[1], "stage", ARGV[1], "record", ARGV[2])
return 1
`)

// publish writes t's record to every shard of sh.
func (c *Cluster) publish(ctx context.Context, shards []*shard.Shard, t Topology) error {
	b, err := json.Marshal(toRecord(t))
	if err != nil {
		return err
	}
	for _, sh := range shards {
		ok, err := publishScript.Run(ctx, sh.Primary(), []string{c.topologyKey()}, t.stage(), b).Int()
		if err != nil {
			return sh.Wrap(err)
		}
		if ok == 0 {
			return fmt.Errorf("shard %s: %w: it holds a later topology, or another change of epoch %d", sh.Name(), ErrStaleTopology, t.Epoch)
		}
	}
	return nil
}

// readRecord reads the record stored on sh; ok is false if there is none.
func (c *Cluster) readRecord(ctx context.Context, sh *shard.Shard) (r record, ok bool, err error) {
	b, err := sh.Primary().HGet(ctx, c.topologyKey(), "record").Bytes()
	if errors.Is(err, redis.Nil) {
		return r, false, nil
	}
	if err != nil {
		return r, false, sh.Wrap(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("shard %s: topology record: %w", sh.Name(), err)
	}
	return r, true, nil
}

// ackScript records that a node routes by a stage, until a time.
//
// KEYS[1] nodes hash, KEYS[2] seen zset; ARGV[1] node, ARGV[2] stage,
// ARGV[3] how long the acknowledgement holds, ms.
var ackScript = redis.NewScript(`
local t = redis.call("TIME")
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
redis.call("ZADD", KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
`)

// acksScript returns the live acknowledgements, node, stage, node, stage...,
// and forgets the expired ones.
//
// KEYS[1] nodes hash, KEYS[2] seen zset.
var acksScript = redis.NewScript(`
local t = redis.call("TIME")
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local dead = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now)
for _, n in ipairs(dead) do redis.call("HDEL", KEYS[1], n) end
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now)
local out = {}
for _, n in ipairs(redis.call("ZRANGE", KEYS[2], 0, -1)) do
  out[#out + 1] = n
  out[#out + 1] = redis.call("HGET", KEYS[1], n) or "-1"
end
return out
`)

// ack records on sh that node routes by stage, for hold.
func (c *Cluster) ack(ctx context.Context, sh *shard.Shard, node string, stage int64, hold time.Duration) error {
	return sh.Wrap(ackScript.Run(ctx, sh.Primary(), []string{c.nodesKey(), c.seenKey()}, node, stage, hold.Milliseconds()).Err())
}

// acks returns, for every node with a live acknowledgement on any of
// shards, the latest stage it acknowledged.
func (c *Cluster) acks(ctx context.Context, shards []*shard.Shard) (map[string]int64, error) {
	out := map[string]int64{}
	for _, sh := range shards {
		res, err := acksScript.Run(ctx, sh.Primary(), []string{c.nodesKey(), c.seenKey()}).StringSlice()
		if err != nil {
			return nil, sh.Wrap(err)
		}
		for i := 0; i+1 < len(res); i += 2 {
			st, _ := strconv.ParseInt(res[i+1], 10, 64)
			if cur, ok := out[res[i]]; !ok || st > cur {
				out[res[i]] = st
			}
		}
	}
	return out, nil
}
