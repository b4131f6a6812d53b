package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterReport is what check found out about a Redis Cluster as a whole;
// its masters are checked as shards (inspectShard).
type clusterReport struct {
	State         string `json:"state"`
	SlotsAssigned int    `json:"slots_assigned"`
	SlotsOK       int    `json:"slots_ok"`
	SlotsFail     int    `json:"slots_fail"`
	KnownNodes    int    `json:"known_nodes"`
	// Problems are what makes the cluster unable to keep sessions.
	Problems []string `json:"problems"`
}

// inspectRedisCluster checks the Redis Cluster that seeds belong to: its
// state and slot coverage from CLUSTER INFO, then every master from
// CLUSTER SLOTS as a shard (replicas, persistence, eviction).
func inspectRedisCluster(ctx context.Context, seeds []string, lim checkLimits) *checkResult {
	res := &checkResult{Sentinels: []string{}, Cluster: &clusterReport{Problems: []string{}}}
	warn := func(format string, args ...any) {
		res.Sentinels = append(res.Sentinels, fmt.Sprintf(format, args...))
	}
	problem := func(format string, args ...any) {
		res.Cluster.Problems = append(res.Cluster.Problems, fmt.Sprintf(format, args...))
	}
	var info map[string]string
	var slots []redis.ClusterSlot
	for _, seed := range seeds {
		n := redis.NewClient(&redis.Options{Addr: seed, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DisableIdentity: true})
		text, err := n.ClusterInfo(ctx).Result()
		if err == nil {
			slots, err = n.ClusterSlots(ctx).Result()
		}
		n.Close()
		if err != nil {
			warn("seed %s: %v", seed, err)
			continue
		}
		info = infoFields(text)
		break
	}
	if info == nil {
		problem("no node answered CLUSTER INFO and CLUSTER SLOTS")
		return res
	}
	cr := res.Cluster
	cr.State = info["cluster_state"]
	cr.SlotsAssigned, _ = strconv.Atoi(info["cluster_slots_assigned"])
	cr.SlotsOK, _ = strconv.Atoi(info["cluster_slots_ok"])
	cr.SlotsFail, _ = strconv.Atoi(info["cluster_slots_fail"])
	cr.KnownNodes, _ = strconv.Atoi(info["cluster_known_nodes"])

	// One shard per master, named by its slot ranges.
	type master struct {
		addr     string
		ranges   string
		replicas []string
	}
	var masters []*master
	byAddr := map[string]*master{}
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		addr := s.Nodes[0].Addr
		m := byAddr[addr]
		if m == nil {
			m = &master{addr: addr}
			byAddr[addr] = m
			masters = append(masters, m)
			for _, r := range s.Nodes[1:] {
				m.replicas = append(m.replicas, r.Addr)
			}
		} else {
			m.ranges += ","
		}
		m.ranges += fmt.Sprintf("%d-%d", s.Start, s.End)
	}
	slices.SortFunc(masters, func(a, b *master) int { return cmpRanges(a.ranges, b.ranges) })
	res.Shards = make([]*shardReport, len(masters))
	var wg sync.WaitGroup
	for i, m := range masters {
		wg.Go(func() {
			r := inspectShard(ctx, "slots "+m.ranges, m.addr, m.replicas, lim)
			res.Shards[i] = r
		})
	}
	wg.Wait()

	res.OK = len(masters) > 0
	if cr.State != "ok" {
		res.OK = false
		problem("cluster_state is %s: the cluster refuses commands until every slot has a master", cr.State)
	}
	if cr.SlotsAssigned < 16384 {
		res.OK = false
		problem("only %d of 16384 slots are assigned: sessions whose slot has no master cannot be saved", cr.SlotsAssigned)
	}
	if cr.SlotsFail > 0 {
		res.OK = false
		problem("%d slots are served by a master the cluster considers failed", cr.SlotsFail)
	}
	for _, r := range res.Shards {
		res.OK = res.OK && len(r.Errors) == 0
	}
	return res
}

// cmpRanges orders masters by the first slot of their ranges.
func cmpRanges(a, b string) int {
	first := func(s string) int {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	return first(a) - first(b)
}
