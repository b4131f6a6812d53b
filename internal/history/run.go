package history

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/session"
)

// Fault is what the nemesis does to a shard's primary.
type Fault int

const (
	// Pause stops the primary (SIGSTOP) until the sentinels have promoted
	// another node, then resumes it: it comes back calling itself primary
	// and runs the writes queued on its sockets until the sentinels turn
	// it into a replica.
	Pause Fault = iota + 1
	// Kill kills the primary (SIGKILL) and, once another node is promoted,
	// restarts it without its data (no persistence): it rejoins as a
	// replica.
	Kill
	// RestartEmpty kills every node of the first shard and restarts them
	// at once, before the sentinels notice: the shard is up and empty. The
	// checker's own control: it must fail.
	RestartEmpty
)

func (f Fault) String() string {
	return map[Fault]string{Pause: "pause", Kill: "kill", RestartEmpty: "restart empty"}[f]
}

// Options describe a run.
type Options struct {
	// Fault is what the nemesis does to the primary of each shard in turn.
	// Required.
	Fault Fault
	// SaveReplicas is the web nodes' cluster.Durability.SaveReplicas.
	// Default 0: no WAIT after a save.
	SaveReplicas int
	// MinReplicas is set as min-replicas-to-write on every node, with
	// min-replicas-max-lag 2. Default 0: off.
	MinReplicas int
	// Load is how long the clients run. Default LoadFromEnv().
	Load time.Duration
	// Clients is the number of clients. Default 8.
	Clients int
	// WebNodes is the number of web nodes. Default 3.
	WebNodes int
}

func (o *Options) init() {
	if o.Load <= 0 {
		o.Load = LoadFromEnv()
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	if o.WebNodes <= 0 {
		o.WebNodes = 3
	}
}

// Name names the run's mode in the report: the fault, and the durability
// settings when set.
func (o Options) Name() string {
	if o.SaveReplicas == 0 && o.MinReplicas == 0 {
		return "default, " + o.Fault.String()
	}
	return fmt.Sprintf("WAIT %d + min-replicas %d, %s", o.SaveReplicas, o.MinReplicas, o.Fault)
}

// LoadFromEnv is SHARDSESSION_HISTORY_LOAD as a duration (e.g. 60s), or
// 12 s.
func LoadFromEnv() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SHARDSESSION_HISTORY_LOAD")); err == nil && d > 0 {
		return d
	}
	return 12 * time.Second
}

// Run starts a topology and web nodes, runs the clients and the nemesis
// for opt.Load, heals, reads every session a last time and checks the
// history.
func Run(t testing.TB, opt Options) Report {
	t.Helper()
	opt.init()
	ctx := context.Background()
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 2, Sentinels: 3,
		DownAfter: time.Second, FailoverTimeout: 3 * time.Second})
	names := make([]string, len(top.Shards))
	for i, sh := range top.Shards {
		names[i] = sh.Name
		for _, s := range append([]*redistest.Server{sh.Primary}, sh.Replicas...) {
			if err := minReplicas(ctx, s, opt.MinReplicas); err != nil {
				t.Fatal(err)
			}
		}
	}
	key := make([]byte, 32)
	rand.Read(key)
	var urls []string
	for range opt.WebNodes {
		urls = append(urls, webNode(t, names, top.SentinelAddrs(), opt.SaveReplicas, key))
	}

	start := time.Now()
	rec := &recorder{start: start}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	clients := make([]*client, opt.Clients)
	for i := range clients {
		clients[i] = &client{id: i, urls: urls, rec: rec, rng: mrand.New(mrand.NewPCG(uint64(start.UnixNano()), uint64(i))),
			http: &http.Client{Timeout: 5 * time.Second}}
		wg.Go(func() { clients[i].run(stop) })
	}
	nemesisErr := make(chan error, 1)
	go func() { nemesisErr <- nemesis(ctx, t, top, opt) }()
	<-time.After(opt.Load)
	close(stop)
	wg.Wait()
	if err := <-nemesisErr; err != nil {
		t.Fatalf("nemesis: %v", err)
	}
	if err := heal(ctx, top); err != nil {
		t.Logf("topology not healed: %v", err)
	}
	for _, c := range clients {
		wg.Go(c.final)
	}
	wg.Wait()
	return Check(opt.Name(), rec.ops(), 20*time.Second)
}

// minReplicas sets min-replicas-to-write n (and min-replicas-max-lag 2)
// on s.
func minReplicas(ctx context.Context, s *redistest.Server, n int) error {
	if n == 0 {
		return nil
	}
	c := s.Client()
	defer c.Close()
	if err := c.ConfigSet(ctx, "min-replicas-to-write", strconv.Itoa(n)).Err(); err != nil {
		return fmt.Errorf("history: %s: %w", s.Addr(), err)
	}
	return c.ConfigSet(ctx, "min-replicas-max-lag", "2").Err()
}

// webNode starts a web node with its own Cluster over the sentinels'
// shards and returns its URL. GET /read answers the session's value (none
// without a session), POST /write?v= sets it, POST /logout destroys the
// session; ?primary=1 reads from the primary.
func webNode(t testing.TB, names, sentinels []string, saveReplicas int, key []byte) string {
	c, err := cluster.New(cluster.Options{
		Shards:     clustertest.SentinelShards(names, sentinels),
		Replica:    replica.Options{Policy: replica.ReplicaPreferred},
		Durability: cluster.Durability{SaveReplicas: saveReplicas},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	m := session.New(c)
	m.SigningKeys = [][]byte{key}
	m.Cookie.Name, m.Cookie.Secure = "session", false
	m.Logger = slog.New(slog.DiscardHandler) // failures are in the history
	mux := http.NewServeMux()
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		switch v := m.Get(r.Context(), "v").(type) {
		case int, int64, float64:
			fmt.Fprint(w, v)
		default:
			fmt.Fprint(w, "none")
		}
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		v, err := strconv.Atoi(r.URL.Query().Get("v"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m.Put(r.Context(), "v", v)
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	h := m.LoadAndSave(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("primary") != "" {
			r = r.WithContext(replica.WithPolicy(r.Context(), replica.PrimaryOnly))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// nemesis hurts the primary of each shard in turn, spread over the load.
func nemesis(ctx context.Context, t testing.TB, top *redistest.Topology, opt Options) error {
	start := time.Now()
	shards := top.Shards
	if opt.Fault == RestartEmpty {
		shards = shards[:1]
	}
	for i, sh := range shards {
		at := opt.Load * time.Duration(10+27*i) / 100
		if opt.Fault == RestartEmpty {
			at = opt.Load * 4 / 10 // once every client has a session with a history
		}
		<-time.After(time.Until(start.Add(at)))
		primary, err := top.CurrentPrimary(ctx, sh.Name)
		if err != nil {
			return err
		}
		switch opt.Fault {
		case Pause:
			if err := primary.Pause(); err != nil {
				return err
			}
			err := switched(ctx, top, sh.Name, primary.Addr())
			if rerr := primary.Resume(); err == nil {
				err = rerr
			}
			if err != nil {
				return err
			}
		case Kill:
			if err := primary.Kill(); err != nil {
				return err
			}
			if err := switched(ctx, top, sh.Name, primary.Addr()); err != nil {
				return err
			}
			if err := restart(ctx, primary, opt.MinReplicas); err != nil {
				return err
			}
		case RestartEmpty:
			nodes := append([]*redistest.Server{sh.Primary}, sh.Replicas...)
			for _, s := range nodes {
				if err := s.Kill(); err != nil {
					return err
				}
			}
			for _, s := range nodes {
				if err := restart(ctx, s, opt.MinReplicas); err != nil {
					return err
				}
			}
		}
		t.Logf("%v: %s of %s at %v", opt.Fault, primary.Addr(), sh.Name, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func restart(ctx context.Context, s *redistest.Server, minRepl int) error {
	if err := s.Restart(ctx); err != nil {
		return err
	}
	return minReplicas(ctx, s, minRepl)
}

// switched polls the sentinels until one names a primary of shard other
// than old.
func switched(ctx context.Context, top *redistest.Topology, shard, old string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return redistest.Poll(ctx, func(ctx context.Context) error {
		for _, s := range top.Sentinels {
			if a, err := s.MasterAddr(ctx, shard); err == nil && a != old {
				return nil
			}
		}
		return errors.New("the sentinels still name the old primary")
	})
}

// heal waits until every shard's current primary has its two replicas
// online again.
func heal(ctx context.Context, top *redistest.Topology) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, sh := range top.Shards {
		err := redistest.Poll(ctx, func(ctx context.Context) error {
			p, err := top.CurrentPrimary(ctx, sh.Name)
			if err != nil {
				return err
			}
			return p.WaitReplicasOnline(ctx, len(sh.Replicas))
		})
		if err != nil {
			return fmt.Errorf("%s: %w", sh.Name, err)
		}
	}
	return nil
}

// recorder collects the operations of every client.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	list  []Op
}

func (r *recorder) add(op Op) {
	r.mu.Lock()
	r.list = append(r.list, op)
	r.mu.Unlock()
}

func (r *recorder) ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.list...)
}

// client is one user: one session at a time, requests in sequence,
// round-robin over the web nodes.
type client struct {
	id     int
	urls   []string
	rec    *recorder
	rng    *mrand.Rand
	http   *http.Client
	next   int      // the web node of the next request
	n      int      // the last value written
	cookie string   // the session cookie; "" when logged out
	ghosts []string // cookies of sessions whose logout was acknowledged
	ok     bool     // the last request succeeded
}

func (c *client) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		switch p := c.rng.IntN(100); {
		case c.cookie == "" || p < 45:
			c.write()
		case p < 50 && c.ok:
			c.logout() // not while its requests fail: a user waits for the site to come back
		case p < 55 && len(c.ghosts) > 0:
			c.read(c.ghosts[c.rng.IntN(len(c.ghosts))], false)
		default:
			c.read(c.cookie, false)
		}
	}
}

// final reads the client's session and the sessions it logged out of from
// their primaries, retrying until an answer comes.
func (c *client) final() {
	for _, ck := range append([]string{c.cookie}, c.ghosts...) {
		if ck == "" {
			continue
		}
		deadline := time.Now().Add(20 * time.Second)
		for !c.read(ck, true) && time.Now().Before(deadline) {
			<-time.After(50 * time.Millisecond)
		}
	}
}

func (c *client) write() {
	c.n++
	start := c.since()
	status, _, set, err := c.do("POST", "/write?v="+strconv.Itoa(c.n), c.cookie)
	if old := token(c.cookie); old != "" && set != nil && *set != "" && token(*set) != old {
		// Tokens change only when the session is new: the server found no
		// session under the old one. That is a read of it, as missing.
		c.rec.add(Op{Client: c.id, Session: old, Kind: Read, Known: true, Start: start, End: c.since()})
	}
	if set != nil && *set != "" {
		c.cookie = *set // a save WAIT did not confirm still sends its token
	}
	c.ok = err == nil && status == http.StatusOK
	if c.cookie == "" {
		return // a first write whose answer was lost: no session to follow
	}
	c.rec.add(Op{Client: c.id, Session: token(c.cookie), Kind: Write, Value: c.n, Known: c.ok,
		Start: start, End: c.since()})
}

func (c *client) logout() {
	start := c.since()
	status, _, _, err := c.do("POST", "/logout", c.cookie)
	known := err == nil && status == http.StatusOK
	c.rec.add(Op{Client: c.id, Session: token(c.cookie), Kind: Logout, Known: known, Start: start, End: c.since()})
	if known {
		c.ghosts = append(c.ghosts, c.cookie)
	}
	c.cookie = ""
}

// read reads the session of cookie and reports whether an answer came.
func (c *client) read(cookie string, final bool) bool {
	start := c.since()
	path := "/read"
	if final {
		path += "?primary=1"
	}
	status, body, set, err := c.do("GET", path, cookie)
	if cookie == c.cookie {
		c.ok = err == nil && status == http.StatusOK
	}
	if err != nil || status != http.StatusOK {
		return false
	}
	v := 0
	if body != "none" {
		if v, err = strconv.Atoi(body); err != nil {
			return false
		}
	}
	if cookie == c.cookie && set != nil && *set != "" {
		c.cookie = *set // re-signed at the version read
	}
	c.rec.add(Op{Client: c.id, Session: token(cookie), Kind: Read, Value: v, Known: true, Final: final, Start: start, End: c.since()})
	return true
}

// do sends one request with the session cookie and returns the status, the
// body, and the session cookie the response set (nil if none).
func (c *client) do(method, path, cookie string) (int, string, *string, error) {
	u := c.urls[c.next%len(c.urls)] + path
	c.next++
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return 0, "", nil, err
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	var set *string
	for _, ck := range resp.Cookies() {
		if ck.Name == "session" {
			v := ck.Value
			if ck.MaxAge < 0 {
				v = ""
			}
			set = &v
		}
	}
	return resp.StatusCode, strings.TrimSpace(string(body)), set, err
}

func (c *client) since() time.Duration { return time.Since(c.rec.start) }

// token is the session token of a cookie: what comes before its version.
func token(cookie string) string {
	t, _, _ := strings.Cut(cookie, ".")
	return t
}
