package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/clustertest"
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
	Env, Scenario, Mode string
	DownAfter           time.Duration
	Requests, Errors    int
	// ErrorsOtherShards are errors of requests to shards not hurt;
	// OtherShardErrors the first few of them.
	ErrorsOtherShards int
	OtherShardErrors  []string
	// FailedReads are reads that returned an error.
	FailedReads int
	// ReadOnlyEOF are errors that reached callers mentioning READONLY or
	// EOF (go-redis #784).
	ReadOnlyEOF int
	// OutageP50 and OutageP99 are the write-outage windows of the sessions
	// on the hurt shard: from a session's first failed write to its next
	// successful one.
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
	// replica of the new one.
	OldPrimaryRejoined bool
}

// Run plays s on env and reports what the clients saw. It returns an error
// when the scenario could not be carried out (no recovery by the deadline,
// a fault the env does not support), not when clients saw errors: judging
// the report is the caller's job.
func Run(ctx context.Context, env Env, s Scenario) (*Report, error) {
	s.init(env)
	r := &Report{Env: env.Kind(), Scenario: s.Fault.String(), Mode: s.Mode.Name, DownAfter: env.DownAfter()}
	if s.Fault == LogoutThenKill {
		r.Mode = "protected (WAIT 1 + journal)"
		if s.Unprotected {
			r.Mode = "unprotected (plain DEL)"
		}
		if s.LagReplica {
			r.Mode += ", replica lagging"
		}
	}
	if err := setMinReplicas(ctx, env, s.Mode.MinReplicasToWrite); err != nil {
		return nil, err
	}
	dur := cluster.Durability{SaveReplicas: s.Mode.SaveReplicas}
	if s.Unprotected {
		dur.DeleteReplicas = -1
	}
	c, err := cluster.New(cluster.Options{Shards: clustertest.SentinelShards(env.Shards(), env.SentinelAddrs()), Durability: dur})
	if err != nil {
		return nil, err
	}
	defer c.Close()

	// A probe session on the hurt shard tells when writes work again.
	probe := idOn(c, s.Shard)
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
	if err := sleep(ctx, s.Before); err != nil {
		return nil, err
	}
	t0 := time.Now()
	oldPrimary, err := inject(ctx, env, s, c, burst)
	if err != nil {
		return nil, err
	}
	if s.Fault == KillReplica {
		// Nothing is promoted: give the sentinels time to notice, and the
		// clients time to meet the dead replica.
		err = sleep(ctx, env.DownAfter()+time.Second)
	} else {
		err = waitWritable(ctx, c, probe, s.Deadline)
	}
	if err != nil {
		var views []string
		for _, a := range env.SentinelAddrs() {
			sc := redis.NewSentinelClient(&redis.Options{Addr: a})
			hp, serr := sc.GetMasterAddrByName(ctx, s.Shard).Result()
			sc.Close()
			views = append(views, fmt.Sprint(hp, serr))
		}
		return nil, fmt.Errorf("chaos: %s: no recovery (sentinels say %v): %w", s.Fault, views, err)
	}
	r.Recovery = time.Since(t0)
	if s.Fault == PausePrimary || s.Fault == PartitionPrimary {
		r.OldPrimaryRejoined = rejoined(ctx, oldPrimary, s.Deadline) == nil
	}
	if err := sleep(ctx, s.After); err != nil {
		return nil, err
	}
	load.Stop()
	stopped = true
	r.measure(load, s.Shard, t0)
	if err := r.verify(ctx, c, load, burst); err != nil {
		return nil, err
	}
	for _, sh := range c.Shards() {
		r.DegradedReads += sh.Stats().DegradedReads
	}
	return r, nil
}

// probeWrite is the probe session's write.
func probeWrite(mode store.WriteMode) store.Write {
	return store.Write{Mode: mode, Set: map[string][]byte{"probe": []byte("1")}, ExpireAt: time.Now().Add(time.Hour)}
}

// idOn returns a new random ID that c routes to shard.
func idOn(c *cluster.Cluster, shard string) string {
	for {
		if id := newID(); c.Locate(id) == shard {
			return id
		}
	}
}

// sleep waits d, the length of a phase of load (not a wait for a
// condition).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

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
func inject(ctx context.Context, env Env, s Scenario, c *cluster.Cluster, burst *logoutBurst) (Node, error) {
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
		// Keep it away until the sentinels have promoted another node,
		// then bring it back: it must rejoin as a replica.
		err := waitSwitched(ctx, env, s.Shard, primary.Addr(), s.Deadline)
		if herr := heal(); err == nil {
			err = herr
		}
		return primary, err
	case LogoutThenKill:
		return primary, burst.run(ctx, env, s)
	}
	return nil, fmt.Errorf("chaos: unknown fault %d", s.Fault)
}

// waitSwitched polls the sentinels until one names a primary other than
// old for shard.
func waitSwitched(ctx context.Context, env Env, shard, old string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	clients := make([]*redis.SentinelClient, 0, len(env.SentinelAddrs()))
	for _, a := range env.SentinelAddrs() {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a, DisableIdentity: true, MaxRetries: -1, ReadTimeout: 500 * time.Millisecond})
		defer sc.Close()
		clients = append(clients, sc)
	}
	return poll(ctx, func(ctx context.Context) error {
		for _, sc := range clients {
			hp, err := sc.GetMasterAddrByName(ctx, shard).Result()
			if err == nil && len(hp) == 2 && hp[0]+":"+hp[1] != old {
				return nil
			}
		}
		return errors.New("sentinels still name the old primary")
	})
}

// waitWritable polls a write to the probe session until it succeeds.
func waitWritable(ctx context.Context, c *cluster.Cluster, probe string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error // the last error other than an open breaker, which hides the cause
	err := poll(ctx, func(ctx context.Context) error {
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
	return poll(ctx, func(ctx context.Context) error {
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

// poll calls check every 25 ms until it succeeds or ctx ends.
func poll(ctx context.Context, check func(context.Context) error) error {
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// measure fills the request counters from the load's events.
func (r *Report) measure(l *Load, hurt string, t0 time.Time) {
	bySession := map[string][]Event{}
	for _, ev := range l.events {
		r.Requests++
		if ev.Err == nil {
			if ev.Shard == hurt && (ev.Op == Write || ev.Op == Login) {
				bySession[ev.ID] = append(bySession[ev.ID], ev)
			}
			continue
		}
		r.Errors++
		if ev.Shard != hurt {
			r.ErrorsOtherShards++
			if len(r.OtherShardErrors) < 5 {
				r.OtherShardErrors = append(r.OtherShardErrors, fmt.Sprintf("op %d on %s: %v", ev.Op, ev.Shard, ev.Err))
			}
		}
		if ev.Op == Read {
			r.FailedReads++
		}
		if msg := ev.Err.Error(); strings.Contains(msg, "READONLY") || strings.Contains(msg, "EOF") {
			r.ReadOnlyEOF++
		}
		if ev.Shard == hurt && (ev.Op == Write || ev.Op == Login) {
			bySession[ev.ID] = append(bySession[ev.ID], ev)
		}
	}
	var windows []time.Duration
	for _, evs := range bySession {
		slices.SortFunc(evs, func(a, b Event) int { return a.Start.Compare(b.Start) })
		var firstFail time.Time
		for _, ev := range evs {
			if ev.Start.Before(t0) {
				continue
			}
			if ev.Err != nil && firstFail.IsZero() {
				firstFail = ev.Start
			}
			if ev.Err == nil && !firstFail.IsZero() {
				windows = append(windows, ev.End.Sub(firstFail))
				break
			}
		}
	}
	slices.Sort(windows)
	r.OutageP50, r.OutageP99 = percentile(windows, 50), percentile(windows, 99)
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, (len(sorted)*p+99)/100-1)]
}

// verify reads back every live session and every logged-out one.
func (r *Report) verify(ctx context.Context, c *cluster.Cluster, l *Load, burst *logoutBurst) error {
	for _, s := range l.sessions {
		fields, found, err := c.Load(ctx, s.id, store.LoadOptions{Primary: true})
		if err != nil {
			return fmt.Errorf("chaos: verify session on %s: %w", s.shard, err)
		}
		r.Sessions++
		n, _ := strconv.ParseInt(fields["n"], 10, 64)
		if !found {
			n = 0
		}
		if n < s.acked {
			r.AckedLost++
		}
		if n < s.confirmed {
			r.ConfirmedLost++
		}
	}
	out := l.loggedOut
	if burst != nil {
		out = append(out, burst.acked()...)
	}
	for _, id := range out {
		_, found, err := c.Load(ctx, id, store.LoadOptions{Primary: true})
		if err != nil {
			return fmt.Errorf("chaos: verify logout: %w", err)
		}
		r.Logouts++
		if found {
			r.Resurrected++
		}
	}
	return nil
}

// logoutBurst is the LogoutThenKill scenario's sessions.
type logoutBurst struct {
	ids []string
	mu  sync.Mutex
	ok  []string
}

// prepareBurst creates the sessions to log out and waits until the
// shard's replicas have them.
func prepareBurst(ctx context.Context, env Env, c *cluster.Cluster, s Scenario) (*logoutBurst, error) {
	b := &logoutBurst{}
	keys := make([]string, 0, s.Logouts)
	for range s.Logouts {
		id := idOn(c, s.Shard)
		if _, err := c.Save(ctx, id, probeWrite(store.Create)); err != nil && !errors.Is(err, store.ErrNotReplicated) {
			return nil, fmt.Errorf("chaos: burst session: %w", err)
		}
		b.ids = append(b.ids, id)
		keys = append(keys, c.Key(id))
	}
	for _, r := range env.Replicas(s.Shard) {
		rc := r.Client()
		err := poll(ctx, func(ctx context.Context) error {
			n, err := rc.Exists(ctx, keys...).Result()
			if err == nil && n != int64(len(keys)) {
				err = fmt.Errorf("replica %s has %d of %d burst sessions", r.Addr(), n, len(keys))
			}
			return err
		})
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// run logs the sessions out from several goroutines and kills the primary
// once half of the logouts were acknowledged.
func (b *logoutBurst) run(ctx context.Context, env Env, s Scenario) error {
	replica := env.Replicas(s.Shard)[0]
	if s.LagReplica {
		if err := LagReplica(ctx, env.Primary(s.Shard), replica); err != nil {
			return err
		}
	}
	c, err := cluster.New(cluster.Options{Shards: clustertest.SentinelShards(env.Shards(), env.SentinelAddrs()), Durability: burstDurability(s)})
	if err != nil {
		return err
	}
	defer c.Close()
	var next, acked atomic.Int64
	half := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(b.ids)); i = next.Add(1) - 1 {
				if c.Delete(ctx, b.ids[i]) == nil {
					b.mu.Lock()
					b.ok = append(b.ok, b.ids[i])
					b.mu.Unlock()
					if acked.Add(1) >= int64(len(b.ids)/2) {
						once.Do(func() { close(half) })
					}
				}
			}
		})
	}
	select {
	case <-half:
	case <-ctx.Done():
	}
	err = env.Primary(s.Shard).Kill()
	if s.LagReplica {
		if rerr := replica.Resume(); err == nil {
			err = rerr
		}
	}
	wg.Wait()
	return err
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
	chunk := strings.Repeat("x", 4<<20)
	for i := range ballast / len(chunk) {
		if err := c.Set(ctx, "chaos:ballast:"+strconv.Itoa(i), chunk, time.Minute).Err(); err != nil {
			return fmt.Errorf("chaos: ballast: %w", err)
		}
	}
	return nil
}

func burstDurability(s Scenario) cluster.Durability {
	if s.Unprotected {
		return cluster.Durability{DeleteReplicas: -1}
	}
	return cluster.Durability{}
}

func (b *logoutBurst) acked() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ok...)
}
