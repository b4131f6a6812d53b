package rediscluster

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/store"
)

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		ok   bool
	}{
		{"no addrs", Options{}, false},
		{"bad addr", Options{Addrs: []string{"localhost"}}, false},
		{"one seed", Options{Addrs: []string{"127.0.0.1:7000"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opt)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadOptions)) {
				t.Fatalf("New = %v; want ok %v or ErrBadOptions", err, tt.ok)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}

// Every field of the client template reaches the go-redis client.
func TestClientTemplatePassedThrough(t *testing.T) {
	creds := func(context.Context) (string, string, error) { return "u", "p", nil }
	tmpl := &redis.ClusterOptions{
		Addrs:                      []string{"ignored:1"},
		Username:                   "user",
		Password:                   "secret",
		CredentialsProviderContext: creds,
		TLSConfig:                  &tls.Config{ServerName: "redis.example"},
		PoolSize:                   7,
		ReadTimeout:                123 * time.Millisecond,
		MaxRedirects:               5,
	}
	c, err := New(Options{Addrs: []string{"127.0.0.1:7000"}, Client: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := c.Client().Options()
	if len(got.Addrs) != 1 || got.Addrs[0] != "127.0.0.1:7000" || got.Username != "user" || got.Password != "secret" ||
		got.CredentialsProviderContext == nil || got.TLSConfig.ServerName != "redis.example" || got.PoolSize != 7 ||
		got.ReadTimeout != 123*time.Millisecond || got.MaxRedirects != 5 || !got.ContextTimeoutEnabled {
		t.Fatalf("client options = %+v", got)
	}
	if tmpl.ContextTimeoutEnabled || tmpl.Addrs[0] != "ignored:1" {
		t.Fatal("New changed the caller's template")
	}
}

func TestSaveModes(t *testing.T) {
	c := newCluster(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	set := map[string][]byte{"v:a": []byte("1")}
	steps := []struct {
		name    string
		id      string
		w       store.Write
		version int64
		err     error
	}{
		{"update of missing", "s1", store.Write{Mode: store.Update, Set: set, ExpireAt: exp}, 0, store.ErrNotFound},
		{"touch of missing", "s1", store.Write{Mode: store.Touch, ExpireAt: exp}, 0, store.ErrNotFound},
		{"create", "s1", store.Write{Mode: store.Create, Set: set, ExpireAt: exp}, 1, nil},
		{"create again", "s1", store.Write{Mode: store.Create, Set: set, ExpireAt: exp}, 0, store.ErrExists},
		{"update", "s1", store.Write{Mode: store.Update, Set: map[string][]byte{"v:b": []byte("2")}, Del: []string{"v:a"}, ExpireAt: exp}, 2, nil},
		{"touch keeps version", "s1", store.Write{Mode: store.Touch, ExpireAt: exp}, 2, nil},
		{"compare-and-set, stale", "s1", store.Write{Mode: store.Update, Set: set, ExpireAt: exp, IfVersion: 1}, 0, store.ErrConflict},
		{"compare-and-set, current", "s1", store.Write{Mode: store.Update, Set: set, ExpireAt: exp, IfVersion: 2}, 3, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			v, err := c.Save(ctx, s.id, s.w)
			if v != s.version || !errors.Is(err, s.err) || (s.err == nil) != (err == nil) {
				t.Fatalf("Save = %d, %v; want %d, %v", v, err, s.version, s.err)
			}
		})
	}
	var info store.ReadInfo
	fields, found, err := c.Load(ctx, "s1", store.LoadOptions{Info: &info})
	if err != nil || !found || fields["v:a"] != "1" || fields["v:b"] != "2" || store.Version(fields) != 3 {
		t.Fatalf("Load = %v, %v, %v", fields, found, err)
	}
	if info.Node == "" || info.Node != c.Locate("s1") {
		t.Fatalf("ReadInfo = %+v, want the master %s", info, c.Locate("s1"))
	}
	if ttl := c.Client().PTTL(ctx, c.Key("s1")).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL = %v", ttl)
	}
	if _, found, err := c.Load(ctx, "nothing", store.LoadOptions{}); found || err != nil {
		t.Fatalf("Load of missing = %v, %v", found, err)
	}
}

// A write resent with the same write ID (go-redis resends a script whose
// reply timed out) is recognised: it returns the version of its first run
// and changes nothing.
func TestResentWriteID(t *testing.T) {
	c := newCluster(t, Options{})
	ctx := context.Background()
	args, err := scripts.SaveArgs(store.Write{Mode: store.Create, Set: map[string][]byte{"v:a": []byte("1")}, ExpireAt: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		v, err := scripts.Save.Run(ctx, c.Client(), []string{c.Key("r")}, args...).Int64()
		if err != nil || v != 1 {
			t.Fatalf("run %d: version %d, %v; want 1 (not ErrExists)", i, v, err)
		}
	}
}

func TestDeleteWaitsForReplica(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name          string
		replicas      int
		pauseReplica  bool
		journal       bool // Durability.RevocationTTL left at its default
		notReplicated bool
		journalled    int64
	}{
		{"WAIT 1 confirmed", 1, false, false, false, 0},
		{"WAIT 1, replica paused", 1, true, false, true, 0},
		{"WAIT 2, one replica", 2, false, false, true, 0},
		{"no WAIT", -1, true, false, false, 0},
		{"WAIT 1, replica paused, journalled", 1, true, true, false, 1},
		{"WAIT 2, one replica, journalled", 2, false, true, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ttl := -time.Duration(1)
			if tt.journal {
				ttl = 0
			}
			c := newCluster(t, Options{Durability: Durability{DeleteReplicas: tt.replicas, Timeout: 200 * time.Millisecond, RevocationTTL: ttl}})
			if _, err := c.Save(ctx, "d", store.Write{Mode: store.Create, Set: map[string][]byte{"v:a": []byte("1")}, ExpireAt: time.Now().Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if tt.pauseReplica {
				master, err := shared.MasterForKey(ctx, c.Key("d"))
				if err != nil {
					t.Fatal(err)
				}
				reps, err := shared.ReplicasOf(ctx, master)
				if err != nil || len(reps) != 1 {
					t.Fatalf("replicas of %s: %v, %v", master.Name, reps, err)
				}
				if err := reps[0].Pause(); err != nil {
					t.Fatal(err)
				}
				defer reps[0].Resume()
			}
			err := c.Delete(ctx, "d")
			if tt.notReplicated != errors.Is(err, store.ErrNotReplicated) || (!tt.notReplicated && err != nil) {
				t.Fatalf("Delete = %v; want ErrNotReplicated %v", err, tt.notReplicated)
			}
			if ok, err := c.Exists(ctx, "d"); ok || err != nil {
				t.Fatalf("Exists after Delete = %v, %v", ok, err)
			}
			if s := c.Stats(); s.Journalled != tt.journalled {
				t.Fatalf("Stats = %+v, want %d journalled", s, tt.journalled)
			}
		})
	}
}

func TestSaveReplicas(t *testing.T) {
	c := newCluster(t, Options{Durability: Durability{SaveReplicas: 2, Timeout: 100 * time.Millisecond}})
	v, err := c.Save(context.Background(), "s", store.Write{Mode: store.Create, ExpireAt: time.Now().Add(time.Minute)})
	if v != 1 || !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("Save with 2 of 1 replicas = %d, %v; want 1, ErrNotReplicated", v, err)
	}
}

func TestUnavailable(t *testing.T) {
	c, err := New(Options{Addrs: []string{"127.0.0.1:1"}, Client: &redis.ClusterOptions{MaxRetries: -1, DialTimeout: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, _, err := c.Load(ctx, "x", store.LoadOptions{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Load from nowhere = %v, want ErrUnavailable", err)
	}
	if err := c.Delete(ctx, "x"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Delete to nowhere = %v, want ErrUnavailable", err)
	}
}

func TestIsMovingAndWrap(t *testing.T) {
	tests := []struct {
		err         error
		moving      bool
		unavailable bool
	}{
		{replyError("MOVED 3999 127.0.0.1:6381"), true, true},
		{replyError("ASK 3999 127.0.0.1:6381"), true, true},
		{replyError("TRYAGAIN Multiple keys request during rehashing of slot"), true, true},
		{replyError("CLUSTERDOWN The cluster is down"), true, true},
		{replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), false, false},
		{context.DeadlineExceeded, false, true},
	}
	for _, tt := range tests {
		if got := isMoving(tt.err); got != tt.moving {
			t.Errorf("isMoving(%v) = %v", tt.err, got)
		}
		if got := errors.Is(wrap("n", "k", tt.err), store.ErrUnavailable); got != tt.unavailable {
			t.Errorf("wrap(%v) unavailable = %v", tt.err, got)
		}
	}
}

// replyError is a Redis error reply, as go-redis returns them.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}
