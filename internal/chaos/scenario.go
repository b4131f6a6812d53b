package chaos

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// Fault is what a scenario does to the topology.
type Fault int

const (
	// KillPrimary SIGKILLs (docker kill) the shard's primary.
	KillPrimary Fault = iota
	// PausePrimary freezes the primary until Sentinel has promoted a
	// replica, then lets it run again: it must come back as a replica.
	PausePrimary
	// PartitionPrimary cuts the primary off the network until Sentinel has
	// promoted a replica, then reconnects it.
	PartitionPrimary
	// KillReplica kills the shard's first replica.
	KillReplica
	// LogoutThenKill logs out a burst of sessions of the shard and kills
	// its primary in the middle of the burst.
	LogoutThenKill
)

var faultNames = map[Fault]string{
	KillPrimary: "kill primary", PausePrimary: "pause primary", PartitionPrimary: "partition primary",
	KillReplica: "kill replica", LogoutThenKill: "logout, then kill primary",
}

func (f Fault) String() string { return faultNames[f] }

// Durability is how hard the clients' writes are made to stick.
type Durability struct {
	// Name labels the mode in reports.
	Name string
	// SaveReplicas is WAIT's count after each write (0: no WAIT).
	SaveReplicas int
	// MinReplicasToWrite is set on every data node (min-replicas-to-write,
	// with min-replicas-max-lag 2): a primary without enough replicas
	// refuses writes.
	MinReplicasToWrite int
}

// The three durability modes of the reports.
var (
	NoWait          = Durability{Name: "no WAIT"}
	Wait1           = Durability{Name: "WAIT 1", SaveReplicas: 1}
	Wait1MinReplica = Durability{Name: "WAIT 1 + min-replicas-to-write 1", SaveReplicas: 1, MinReplicasToWrite: 1}
)

// Scenario is one fault played through a load.
type Scenario struct {
	Fault Fault
	Mode  Durability
	// Shard is the shard hurt. Default the first one.
	Shard string
	// Before and After are how long the load runs before the fault and
	// after recovery. Default 1 s each, or half of SHARDSESSION_CHAOS_SOAK.
	Before, After time.Duration
	// Deadline bounds the wait for recovery. Default 30 s.
	Deadline time.Duration
	// Load shapes the clients; its SaveReplicas comes from Mode.
	Load LoadOptions
	// LogoutThenKill only: Unprotected turns off what protects logouts
	// (Durability.DeleteReplicas = -1: no WAIT, no journal); LagReplica
	// freezes the replica during the burst so that it misses the DELs.
	Unprotected, LagReplica bool
	// Logouts is the size of the LogoutThenKill burst. Default 40.
	Logouts int
}

func (s *Scenario) init(env Env) {
	if s.Shard == "" {
		s.Shard = env.Shards()[0]
	}
	soak, _ := time.ParseDuration(os.Getenv("SHARDSESSION_CHAOS_SOAK"))
	if s.Before <= 0 {
		s.Before = max(time.Second, soak/2)
	}
	if s.After <= 0 {
		s.After = max(time.Second, soak/2)
	}
	if s.Deadline <= 0 {
		s.Deadline = 30 * time.Second
	}
	if s.Logouts <= 0 {
		s.Logouts = 40
	}
	s.Load.SaveReplicas = s.Mode.SaveReplicas
}

// Report is what the clients saw during one scenario.
type Report struct {
	// Env is the Env's Kind, Backend its Backend.
	Env, Backend, Scenario, Mode string
	Fault                        Fault
	// DownAfter is Env.DownAfter: down-after-milliseconds or
	// cluster-node-timeout.
	DownAfter        time.Duration
	Requests, Errors int
	// ErrorsOtherShards are errors of requests to shards not hurt;
	// OtherShardErrors the first few of them.
	ErrorsOtherShards int
	OtherShardErrors  []string
	// SlowestOtherShards is the longest request to a shard not hurt, from
	// the fault on: a Redis Cluster refuses every command while a failed
	// master's slots have no master, which the client retries.
	SlowestOtherShards time.Duration
	// FailedReads are reads that returned an error.
	FailedReads int
	// ReadOnlyEOF are errors that reached callers mentioning READONLY or
	// EOF (go-redis #784).
	ReadOnlyEOF int
	// OutageP50 and OutageP99 are the write-outage windows of the sessions
	// on the hurt shard: from a session's first failed or stalled write to
	// the end of its next successful one.
	OutageP50, OutageP99 time.Duration
	// Recovery is from the fault to the first successful write to the hurt
	// shard through the cluster.
	Recovery time.Duration
	// Sessions is how many live sessions were checked at the end.
	Sessions int
	// AckedLost are writes reported successful whose value is gone;
	// ConfirmedLost those of them that WAIT had confirmed on a replica.
	AckedLost, ConfirmedLost int
	// Logouts acknowledged, and how many of those sessions loaded again.
	Logouts, Resurrected int
	// DegradedReads served by replicas while the primary was away.
	DegradedReads int64
	// OldPrimaryRejoined: a paused or partitioned primary came back as a
	// replica of the new one (meaningful for those faults only).
	OldPrimaryRejoined bool
}

// Run plays s on env and reports what the clients saw. It returns an error
// when the scenario could not be carried out (no recovery by the deadline,
// a fault the env does not support), not when clients saw errors: judging
// the report is the caller's job.
func Run(ctx context.Context, env Env, s Scenario) (*Report, error) {
	s.init(env)
	r := &Report{Env: env.Kind(), Backend: env.Backend(), Scenario: s.Fault.String(), Mode: s.Mode.Name, DownAfter: env.DownAfter(), Fault: s.Fault}
	if s.Fault == LogoutThenKill {
		r.Mode = protectionName(env, s)
	}
	if err := setMinReplicas(ctx, env, s.Mode.MinReplicasToWrite); err != nil {
		return nil, err
	}
	opt := ClientOptions{SaveReplicas: s.Mode.SaveReplicas}
	if s.Unprotected {
		opt.DeleteReplicas = -1
	}
	c, err := env.Open(opt)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	// A probe session on the hurt shard tells when writes work again.
	probe, err := idOn(c, s.Shard)
	if err != nil {
		return nil, err
	}
	if _, err := c.Save(ctx, probe, probeWrite(store.Create)); err != nil {
		return nil, fmt.Errorf("chaos: probe session: %w", err)
	}
	var burst *logoutBurst
	if s.Fault == LogoutThenKill {
		if burst, err = prepareBurst(ctx, env, c, s); err != nil {
			return nil, err
		}
	}

	load := StartLoad(c, s.Load)
	stopped := false
	defer func() {
		if !stopped {
			load.Stop()
		}
	}()
	if err := redistest.Sleep(ctx, s.Before); err != nil {
		return nil, err
	}
	t0 := time.Now()
	oldPrimary, err := inject(ctx, env, s, burst)
	if err != nil {
		return nil, err
	}
	if s.Fault == KillReplica {
		// Nothing is promoted: give the sentinels time to notice, and the
		// clients time to meet the dead replica.
		err = redistest.Sleep(ctx, env.DownAfter()+time.Second)
	} else {
		err = waitWritable(ctx, c, probe, s.Deadline)
	}
	if err != nil {
		return nil, fmt.Errorf("chaos: %s: no recovery (%s): %w", s.Fault, env.Explain(ctx, s.Shard), err)
	}
	r.Recovery = time.Since(t0)
	if s.Fault == PausePrimary || s.Fault == PartitionPrimary {
		r.OldPrimaryRejoined = rejoined(ctx, oldPrimary, s.Deadline) == nil
	}
	if err := redistest.Sleep(ctx, s.After); err != nil {
		return nil, err
	}
	load.Stop()
	stopped = true
	r.measure(load, s.Shard, t0)
	if err := r.verify(ctx, c, load, burst); err != nil {
		return nil, err
	}
	if cc, ok := c.(*cluster.Cluster); ok {
		// Only a ring of Sentinel shards reads replicas; a Redis Cluster
		// client reads masters.
		for _, sh := range cc.Shards() {
			r.DegradedReads += sh.Stats().DegradedReads
		}
	}
	return r, nil
}

// protectionName labels a LogoutThenKill scenario's mode: what protects
// its logouts on env's backend.
func protectionName(env Env, s Scenario) string {
	name := "protected (WAIT 1 + journal)"
	if env.Backend() == RedisClusterBackend {
		name = "protected (WAIT 1)"
	}
	if s.Unprotected {
		name = "unprotected (plain DEL)"
	}
	if s.LagReplica {
		name += ", replica lagging"
	}
	return name
}

// probeWrite is the probe session's write.
func probeWrite(mode store.WriteMode) store.Write {
	return store.Write{Mode: mode, Set: map[string][]byte{"probe": []byte("1")}, ExpireAt: time.Now().Add(time.Hour)}
}

// idOn returns a new random ID that c routes to shard. It gives up after
// more tries than any shard of a few needs, so that a client that cannot
// locate (a Redis Cluster client without a slot table) fails the scenario
// rather than spin.
func idOn(c Client, shard string) (string, error) {
	for range 10000 {
		if id := newID(); c.Locate(id) == shard {
			return id, nil
		}
	}
	return "", fmt.Errorf("chaos: no session ID routed to shard %s in 10000 tries", shard)
}
