package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// sentinelReport is the Sentinels' view of one shard's master.
type sentinelReport struct {
	// Primary is the address most Sentinels give for the master.
	Primary string `json:"primary"`
	// Watching is how many of the Sentinels asked monitor the master.
	Watching int `json:"watching"`
	// Asked is how many Sentinels answered.
	Asked int `json:"asked"`
	// Quorum is the master's configured quorum.
	Quorum int `json:"quorum"`
	// Agree is true when every Sentinel names the same primary.
	Agree bool `json:"agree"`
	// CKQuorum is SENTINEL CKQUORUM's answer.
	CKQuorum string `json:"ckquorum"`
	// Flags are the master's flags, e.g. "master" or "master,s_down".
	Flags string `json:"flags"`
}

// sentinelView is what a set of Sentinels says about the masters they
// monitor.
type sentinelView struct {
	shards   map[string]*sentinelReport
	names    []string // sorted
	problems []string // Sentinels that did not answer
}

// askSentinels asks every Sentinel at addrs for the masters it monitors.
func askSentinels(ctx context.Context, addrs []string) *sentinelView {
	v := &sentinelView{shards: map[string]*sentinelReport{}}
	votes := map[string]map[string]int{} // master → primary address → Sentinels
	for _, addr := range addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DisableIdentity: true})
		names, err := masterNames(ctx, sc)
		if err != nil {
			v.problems = append(v.problems, fmt.Sprintf("sentinel %s: %v", addr, err))
			sc.Close()
			continue
		}
		for _, name := range names {
			m, err := sc.Master(ctx, name).Result()
			if err != nil {
				v.problems = append(v.problems, fmt.Sprintf("sentinel %s: master %s: %v", addr, name, err))
				continue
			}
			rep := v.shards[name]
			if rep == nil {
				rep = &sentinelReport{Flags: m["flags"]}
				rep.Quorum, _ = strconv.Atoi(m["quorum"])
				rep.CKQuorum, err = sc.CkQuorum(ctx, name).Result()
				if err != nil {
					rep.CKQuorum = err.Error()
				}
				v.shards[name] = rep
				votes[name] = map[string]int{}
				v.names = append(v.names, name)
			}
			rep.Watching++
			votes[name][net.JoinHostPort(m["ip"], m["port"])]++
		}
		sc.Close()
	}
	asked := len(addrs) - len(v.problems)
	for name, rep := range v.shards {
		rep.Asked, rep.Agree = asked, len(votes[name]) == 1
		best := 0
		for addr, n := range votes[name] {
			if n > best || (n == best && addr < rep.Primary) {
				rep.Primary, best = addr, n
			}
		}
	}
	slices.Sort(v.names)
	return v
}

// masterNames returns the names of the masters a Sentinel monitors.
// SENTINEL MASTERS answers a list of maps (RESP3) or of flat field/value
// lists (RESP2).
func masterNames(ctx context.Context, sc *redis.SentinelClient) ([]string, error) {
	masters, err := sc.Masters(ctx).Result()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range masters {
		switch m := m.(type) {
		case map[any]any:
			if s, ok := m["name"].(string); ok {
				names = append(names, s)
			}
		case []any:
			for i := 0; i+1 < len(m); i += 2 {
				if m[i] == "name" {
					if s, ok := m[i+1].(string); ok {
						names = append(names, s)
					}
				}
			}
		}
	}
	return names, nil
}

// judgeSentinel records the Sentinels' view of r's shard and its problems.
func judgeSentinel(r *shardReport, s *sentinelReport) {
	r.Sentinel = s
	if s == nil {
		r.warnf("not monitored by any of the Sentinels given: no automatic failover")
		return
	}
	if !s.Agree {
		r.errorf("Sentinels disagree on the primary: failover in progress or split brain")
	}
	if s.Primary != r.Addr {
		r.errorf("Sentinels name %s as primary, not %s", s.Primary, r.Addr)
	}
	if !strings.HasPrefix(s.CKQuorum, "OK") {
		r.errorf("Sentinel quorum check failed: %s", s.CKQuorum)
	}
	for _, f := range strings.Split(s.Flags, ",") {
		if f == "s_down" || f == "o_down" {
			r.errorf("Sentinels flag the primary %s", s.Flags)
			break
		}
	}
	if s.Watching < 3 {
		r.warnf("only %d Sentinel(s) watch this shard: run at least 3 so that one can fail", s.Watching)
	}
}
