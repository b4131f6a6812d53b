package shard

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Capabilities are what a shard's primary server is and which of the
// commands the library's optional features need it accepts. Managed Redis
// services refuse some of them (CONFIG and MIGRATE everywhere, CLIENT on
// some), renamed away or denied by an ACL; a feature that needs a refused
// command is off for the shard, and says so once in the log.
//
// A shard probes its primary in the background when it is made (until one
// probe is answered) and again after every change of primary. Probing
// costs seven commands, none of which changes data.
type Capabilities struct {
	// Probed is when the last answered probe ran; zero before one has.
	Probed time.Time
	// Err is why the last probe failed (the primary unreachable), or nil.
	// The other fields keep the last answered probe's findings.
	Err error

	// Server is "redis" or "valkey"; Version its version, e.g. "7.0.15".
	Server, Version string
	// Auth is how the library authenticates to the shard, from the client
	// template: "none", "password", "ACL user", "credentials provider" or
	// "streaming credentials provider" (short-lived tokens, as IAM or
	// Entra ID give).
	Auth string
	// TLS says the client template sets a TLS configuration.
	TLS bool

	// Scripts: EVAL works. Without it no session can be saved.
	Scripts bool
	// Config: CONFIG GET works. Without it the library cannot turn on the
	// keyspace events that announce expired sessions, and check cannot
	// read persistence and eviction settings.
	Config bool
	// Migrate: MIGRATE works. Without it resharding moves keys by copy
	// instead.
	Migrate bool
	// Client: CLIENT works (CLIENT ID).
	Client bool
	// Tracking: CLIENT TRACKING works, as a near cache needs.
	Tracking bool

	// KeyspaceEvents is the server's notify-keyspace-events, when CONFIG GET
	// answered; "" otherwise.
	KeyspaceEvents string

	// Refusals maps each refused command to the server's reply.
	Refusals map[string]string
}

// ExpiredEvents reports whether the server announces expired keys (its
// notify-keyspace-events holds E, and x or A): known only when CONFIG GET
// answered (ok false otherwise).
func (c Capabilities) ExpiredEvents() (on, ok bool) {
	if !c.Config {
		return false, false
	}
	ev := c.KeyspaceEvents
	return strings.Contains(ev, "E") && (strings.Contains(ev, "x") || strings.Contains(ev, "A")), true
}

// NearCache says whether a near cache can track this shard: "ok", or
// "off: " and why (for example "off: CLIENT refused").
func (c Capabilities) NearCache() string {
	switch {
	case c.Probed.IsZero():
		return "unknown"
	case !c.Client:
		return "off: CLIENT refused"
	case !c.Tracking:
		return "off: CLIENT TRACKING refused"
	}
	return "ok"
}

// Off lists the features that are off for this shard, each with why and
// what it means, in a stable order; nil when every feature works.
func (c Capabilities) Off() []string {
	if c.Probed.IsZero() {
		return nil
	}
	var off []string
	if !c.Scripts {
		off = append(off, "EVAL refused ("+c.Refusals["EVAL"]+"): sessions cannot be saved on this shard")
	}
	if nc := c.NearCache(); nc != "ok" {
		off = append(off, "near cache "+nc+": this shard's sessions are read uncached")
	}
	if !c.Migrate {
		off = append(off, "MIGRATE refused: resharding copies this shard's keys instead of migrating them")
	}
	if !c.Config {
		// With CONFIG the library turns the events on itself when a
		// watcher asks for them (and Off does not mention them).
		off = append(off, "CONFIG refused: expired-session events need notify-keyspace-events to include \"Ex\", set where the service is configured (a parameter group, the console)")
	}
	return off
}

// capabilityTimeout bounds one probe.
const capabilityTimeout = 5 * time.Second

// Probe asks the server behind c what it is and which of the library's
// commands it accepts, without changing any data: INFO server, EVAL of a
// constant, CONFIG GET notify-keyspace-events, CLIENT ID, CLIENT TRACKING
// on and off, and a MIGRATE of a key that does not exist (answered NOKEY
// before anything is sent anywhere). opt is the client template (for Auth
// and TLS). A network failure is returned as Err; a refused command is
// recorded, not an error.
//
// The questions go over one connection of a client of its own with c's
// options, closed after. A connection taken from c's pool while requests
// hold others would stay in the pool, one more than a node's budget
// (cluster's TestConnectionsPerNode); and tracking is never left on a
// pooled connection. Its OnConnect is opt's, when opt is given: c's may
// be a shard's, which asks a new connection INFO to check the node's
// identity, a question the probe asks itself.
func Probe(ctx context.Context, c *redis.Client, opt *redis.Options) Capabilities {
	ctx, cancel := context.WithTimeout(ctx, capabilityTimeout)
	defer cancel()
	one := *c.Options()
	one.PoolSize, one.MinIdleConns, one.MaxIdleConns = 1, 0, 0
	if opt != nil {
		one.OnConnect = opt.OnConnect
	}
	client := redis.NewClient(&one)
	defer client.Close()
	conn := client.Conn()
	defer conn.Close()

	cp := Capabilities{Auth: authKind(opt), TLS: opt != nil && opt.TLSConfig != nil, Refusals: map[string]string{}}
	info, err := conn.Info(ctx, "server").Result()
	if err != nil {
		cp.Err = err
		return cp
	}
	cp.Server, cp.Version = serverOf(info)
	refused := func(cmd string, err error) bool {
		var re redis.Error
		if err != nil && errors.As(err, &re) {
			cp.Refusals[cmd] = err.Error()
			return true
		}
		if err != nil && cp.Err == nil {
			cp.Err = err
		}
		return err != nil
	}
	cp.Scripts = !refused("EVAL", conn.Eval(ctx, "return 1", nil).Err())
	ev, err := conn.ConfigGet(ctx, "notify-keyspace-events").Result()
	if cp.Config = !refused("CONFIG", err); cp.Config {
		cp.KeyspaceEvents = ev["notify-keyspace-events"]
	}
	res, err := conn.Do(ctx, "MIGRATE", "127.0.0.1", "1", "", "0", "1", "KEYS", "~shardsession-probe-absent").Text()
	if cp.Migrate = !refused("MIGRATE", err); cp.Migrate && res != "NOKEY" {
		cp.Migrate, cp.Refusals["MIGRATE"] = false, "unexpected reply "+res
	}
	cp.Client, cp.Tracking = probeTracking(ctx, conn, refused)
	if cp.Err == nil {
		cp.Probed = time.Now()
	}
	return cp
}

// probeTracking runs CLIENT ID, then CLIENT TRACKING ON with the
// connection's own ID as redirect (which RESP2 needs) and OFF again.
func probeTracking(ctx context.Context, conn *redis.Conn, refused func(string, error) bool) (client, tracking bool) {
	id, err := conn.ClientID(ctx).Result()
	if refused("CLIENT", err) {
		return false, false
	}
	if refused("CLIENT TRACKING", conn.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", id).Err()) {
		return true, false
	}
	return true, !refused("CLIENT TRACKING", conn.Do(ctx, "CLIENT", "TRACKING", "OFF").Err())
}

// serverOf reads the flavour and version from INFO server: Valkey reports
// a compatible redis_version too, and its own valkey_version.
func serverOf(info string) (server, version string) {
	fields := map[string]string{}
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	if v, ok := fields["valkey_version"]; ok {
		return "valkey", v
	}
	return "redis", fields["redis_version"]
}

// authKind says how a client made from opt authenticates.
func authKind(opt *redis.Options) string {
	switch {
	case opt == nil:
		return "none"
	case opt.StreamingCredentialsProvider != nil:
		return "streaming credentials provider"
	case opt.CredentialsProvider != nil || opt.CredentialsProviderContext != nil:
		return "credentials provider"
	case opt.Username != "":
		return "ACL user"
	case opt.Password != "":
		return "password"
	}
	return "none"
}

// Capabilities returns what the last probe of the shard's primary found
// (see Capabilities); its Probed is zero until a probe has answered.
func (s *Shard) Capabilities() Capabilities {
	if p := s.caps.Load(); p != nil {
		return *p
	}
	return Capabilities{}
}

// probeRetry is the longest wait between probes of a primary that does not
// answer.
const probeRetry = 30 * time.Second

// probe probes the primary until a probe is answered (or the shard is
// closed), stores the findings and logs each feature that is off and was
// not at the last probe. It runs when the shard is made and after every
// change of primary; reprobe starts it.
func (s *Shard) probe(ctx context.Context) {
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, probeRetry) {
		cp := Probe(ctx, s.primary, s.clientOpt)
		if cp.Err == nil {
			s.storeCapabilities(cp)
			return
		}
		if prev := s.caps.Load(); prev != nil {
			kept := *prev // what the last answered probe found still holds
			kept.Err, cp = cp.Err, kept
		}
		s.caps.Store(&cp)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// logged holds the findings already logged by this process, by shard,
// primary and finding: a fleet's node logs each once, however many
// clusters of the process share the shard or probe it again.
var logged sync.Map

// storeCapabilities keeps cp and logs what it turns off, but the near
// cache, which logs its own refusal when there is one (NearCache).
func (s *Shard) storeCapabilities(cp Capabilities) {
	s.caps.Store(&cp)
	for _, off := range cp.Off() {
		if strings.HasPrefix(off, "near cache") {
			continue
		}
		if _, seen := logged.LoadOrStore(s.name+"\x00"+s.Addr(s.primary)+"\x00"+off, true); seen {
			continue
		}
		level := slog.LevelWarn
		if !cp.Migrate && strings.HasPrefix(off, "MIGRATE") {
			level = slog.LevelInfo // resharding still works, by copy
		}
		slog.Log(context.Background(), level, "shardsession: a feature is off for this shard", "shard", s.name, "server", cp.Server+" "+cp.Version, "why", off)
	}
}

// reprobe probes the primary again in the background, after a change of
// primary: the new server may be another version, or configured otherwise.
func (s *Shard) reprobe() {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if s.probeCtx == nil || s.probeCtx.Err() != nil {
		return
	}
	s.probeWG.Go(func() { s.probe(s.probeCtx) })
}
