package replica

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/jitter"
)

// latencyWeight is the weight of a new sample in the latency moving average.
const latencyWeight = 0.2

// run checks the replicas every CheckInterval (or at once after Recheck)
// while they are in use (InUse), and sleeps while they are not, until
// ctx ends. With discover, it looks for them first, on starting and on
// waking, then leaves that to discoverLoop, so that a primary that hangs
// the checks does not also delay learning of its replacement.
func (s *Set) run(ctx context.Context) {
	defer s.done.Done()
	if s.discover != nil {
		s.done.Add(1)
		go s.discoverLoop(ctx)
	}
	t := time.NewTimer(s.opt.CheckInterval)
	defer t.Stop()
	look := s.discover != nil
	for {
		if !s.InUse() {
			if !s.sleep(ctx) {
				return
			}
			look = s.discover != nil // what was known of the nodes is old
		}
		if look {
			s.rediscover(ctx)
			look = false
		}
		s.checkAll(ctx)
		t.Reset(jitter.Around(s.opt.CheckInterval))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// sleep forgets what the checks found (the replicas are "unchecked" and
// serve no reads until a check after waking) and waits for want. It
// reports false when ctx ended first.
func (s *Set) sleep(ctx context.Context) bool {
	checked := make(chan struct{})
	s.checked.Store(&checked)
	for _, nd := range s.list() {
		nd.healthy.Store(false)
		nd.status.Store(&Status{Addr: nd.addr, Reason: "unchecked"})
	}
	s.lag = lagTracker{}
	s.asleep.Store(true)
	if s.InUse() && s.asleep.CompareAndSwap(true, false) {
		return true // wanted since the last look, before want could see asleep
	}
	select {
	case <-ctx.Done():
		return false
	case <-s.wake:
		return true
	}
}

// discoverLoop asks discover every CheckInterval (or at once after
// Rediscover) while the Set is awake, until ctx ends, and asks for a check
// round when the primary or the replicas changed.
func (s *Set) discoverLoop(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTimer(jitter.Around(s.opt.CheckInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(jitter.Around(s.opt.CheckInterval))
		case <-s.rekick:
		}
		if !s.asleep.Load() && s.rediscover(ctx) {
			s.recheck()
		}
	}
}

// rediscover asks discover for the current primary and replicas, and
// reports whether either changed. On failure the Set keeps what it knew.
func (s *Set) rediscover(ctx context.Context) (changed bool) {
	s.discoverMu.Lock()
	defer s.discoverMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.opt.CheckTimeout)
	defer cancel()
	primary, replicas, err := s.discover(ctx)
	if err != nil {
		return false
	}
	if p := s.current.Load(); p == nil || *p != primary {
		changed = true
	}
	s.SetPrimary(primary)
	old := s.list()
	changed = changed || len(old) != len(replicas)
	for i := 0; !changed && i < len(old); i++ {
		changed = old[i].client != replicas[i]
	}
	s.replace(replicas)
	return changed
}

// checkAll asks every replica for its state and the primary for its
// offset, all at once, so that one hung node does not delay the others.
// The replicas' lag is measured against the primary's offsets of earlier
// rounds; Checked's channel is closed as soon as the replicas are judged,
// without waiting for a primary that does not answer (Fallback waits on
// it).
func (s *Set) checkAll(ctx context.Context) {
	now := time.Now()
	var (
		info map[string]string
		rtt  time.Duration
		err  error
	)
	primary := make(chan struct{})
	go func() {
		defer close(primary)
		info, rtt, err = replicationInfo(ctx, s.primary, s.opt.CheckTimeout)
	}()
	var wg sync.WaitGroup
	for _, nd := range s.list() {
		wg.Go(func() { s.check(ctx, nd) })
	}
	wg.Wait()
	if ctx.Err() == nil {
		if c := *s.checked.Load(); !isClosed(c) {
			close(c)
		}
	}
	<-primary
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		if off, ok := intField(info, "master_repl_offset"); ok {
			s.lag.record(now, off)
		}
		updateEWMA(&s.primLat, rtt)
	}
	s.lag.trim(now, s.opt.MaxLag+2*s.opt.CheckInterval)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// check updates one replica's health.
func (s *Set) check(ctx context.Context, nd *node) {
	info, rtt, err := replicationInfo(ctx, nd.client, s.opt.CheckTimeout)
	if ctx.Err() != nil {
		return // shutting down: keep the last verdict
	}
	now := time.Now()
	st := &Status{Addr: nd.addr, Checked: now}
	master := ""
	if err == nil && info["role"] == "slave" {
		master = net.JoinHostPort(info["master_host"], info["master_port"])
	}
	if master == "" {
		nd.master.Store(nil)
	} else if m := nd.master.Load(); m == nil || *m != master {
		nd.master.Store(&master)
	}
	switch {
	case err != nil:
		st.Reason = "down: " + err.Error()
	case master == "":
		st.Reason = "not a replica"
	case !s.follows(nd):
		st.Reason = s.notFollowing(nd)
	case info["master_link_status"] != "up":
		st.Reason = "link down"
	default:
		updateEWMA(&nd.latency, rtt)
		if off, ok := intField(info, "slave_repl_offset"); ok {
			st.Lag = s.lag.behind(now, off)
		}
		if st.Lag > s.opt.MaxLag {
			st.Reason = "lagging"
		}
	}
	st.Healthy = st.Reason == ""
	st.Latency = time.Duration(nd.latency.Load())
	nd.status.Store(st)
	nd.healthy.Store(st.Healthy)
}

// replicationInfo runs INFO replication on c within timeout and returns its
// fields and the round trip time.
func replicationInfo(ctx context.Context, c *redis.Client, timeout time.Duration) (map[string]string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	raw, err := c.Info(ctx, "replication").Result()
	rtt := time.Since(start)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.New("no answer within the check timeout")
		}
		return nil, rtt, err
	}
	return parseInfo(raw), rtt, nil
}

// parseInfo splits an INFO reply into its key:value fields.
func parseInfo(raw string) map[string]string {
	fields := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok && !strings.HasPrefix(k, "#") {
			fields[k] = v
		}
	}
	return fields
}

func intField(info map[string]string, name string) (int64, bool) {
	v, err := strconv.ParseInt(info[name], 10, 64)
	return v, err == nil
}

// updateEWMA folds sample into the moving average held in avg (ns).
func updateEWMA(avg *atomic.Int64, sample time.Duration) {
	old := avg.Load()
	if old == 0 {
		avg.Store(int64(sample))
		return
	}
	avg.Store(int64(float64(old)*(1-latencyWeight) + float64(sample)*latencyWeight))
}
