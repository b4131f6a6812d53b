package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// eventually polls check every 25 ms until it returns nil or d passes.
func eventually(t *testing.T, d time.Duration, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	if err := poll(ctx, check); err != nil {
		t.Fatalf("condition not met within %v: %v", d, err)
	}
}

func TestServerSetGet(t *testing.T) {
	s := NewServer(t, Options{Name: "setget"})
	c := s.Client()
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v; want v", got, err)
	}
	if host, _, _ := net.SplitHostPort(s.Addr()); host != "127.0.0.1" {
		t.Errorf("Addr() = %q, want 127.0.0.1:port", s.Addr())
	}
}

func TestServerCloseIdempotentRemovesTempDir(t *testing.T) {
	s, err := Start(t.Context(), Options{Name: "close"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if s.Running() {
		t.Error("running after Close")
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s still there after Close: %v", s.Dir, err)
	}
	if err := s.Restart(t.Context()); err == nil {
		t.Error("Restart after Close removed the dir: want an error")
	}
}

func TestReplica(t *testing.T) {
	p := NewServer(t, Options{Name: "primary"})
	r := NewServer(t, Options{Name: "replica", ReplicaOf: p.Addr()})
	pc, rc := p.Client(), r.Client()
	defer pc.Close()
	defer rc.Close()
	if err := pc.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func(ctx context.Context) error {
		got, err := rc.Get(ctx, "k").Result()
		if err == nil && got != "v" {
			err = errors.New("got " + got)
		}
		return err
	})
	if err := r.WaitReplicaUp(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestKillRestart(t *testing.T) {
	tests := []struct {
		name        string
		persistence bool
	}{
		{"no-persistence", false},
		{"persistence", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t, Options{Name: tt.name, Persistence: tt.persistence})
			c := s.Client()
			defer c.Close()
			ctx := t.Context()
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			port := s.Port
			if err := s.Kill(); err != nil {
				t.Fatal(err)
			}
			if s.Running() {
				t.Fatal("running after Kill")
			}
			if err := ping(ctx, s.Addr(), nil); err == nil {
				t.Fatal("PING answered after Kill")
			}
			if err := s.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if s.Port != port {
				t.Fatalf("port changed: %d -> %d", port, s.Port)
			}
			got, err := c.Get(ctx, "k").Result()
			switch {
			case tt.persistence && (err != nil || got != "v"):
				t.Fatalf("after restart GET k = %q, %v; want v", got, err)
			case !tt.persistence && !errors.Is(err, redis.Nil):
				t.Fatalf("after restart without persistence GET k = %q, %v; want redis.Nil", got, err)
			}
			if err := s.Restart(ctx); err == nil {
				t.Fatal("Restart of a running server: want an error")
			}
		})
	}
}

func TestPauseResume(t *testing.T) {
	s := NewServer(t, Options{Name: "pause"})
	c := redis.NewClient(&redis.Options{
		Addr:            s.Addr(),
		ReadTimeout:     200 * time.Millisecond,
		WriteTimeout:    200 * time.Millisecond,
		MaxRetries:      -1,
		DisableIdentity: true,
	})
	defer c.Close()
	ctx := t.Context()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	defer s.Resume()
	start := time.Now()
	err := c.Get(ctx, "k").Err()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("GET while paused: err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout took %v, want about 200ms", d)
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}
}

func TestNotInstalled(t *testing.T) {
	// A PATH with redis-server but no redis-sentinel.
	dir := t.TempDir()
	bin, err := exec.LookPath(serverBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, serverBin)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if err := CheckInstalled(false); err != nil {
		t.Fatalf("CheckInstalled(false) with redis-server on PATH: %v", err)
	}
	if err := CheckInstalled(true); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("CheckInstalled(true) without redis-sentinel: err = %v, want ErrNotInstalled", err)
	}
	msg := fatalMessage(t, func(tb testing.TB) { NewTopology(tb, TopologyOptions{Shards: 1, Sentinels: 1}) })
	if !strings.Contains(msg, InstallHint) {
		t.Errorf("NewTopology without redis-sentinel: Fatalf(%q), want it to name %q", msg, InstallHint)
	}

	t.Setenv("PATH", t.TempDir())
	_, err = Start(t.Context(), Options{})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), InstallHint) {
		t.Fatalf("Start without redis-server on PATH: err = %v, want ErrNotInstalled naming %q", err, InstallHint)
	}
	msg = fatalMessage(t, func(tb testing.TB) { NewServer(tb, Options{}) })
	if !strings.Contains(msg, InstallHint) {
		t.Errorf("NewServer without redis-server: Fatalf(%q), want it to name %q", msg, InstallHint)
	}
}

// fatalTB records the first Fatalf and ends the goroutine, as testing does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalMessage runs helper with a fatalTB wrapping t and returns what it passed to
// Fatalf, or "" if it did not fail.
func fatalMessage(t *testing.T, helper func(testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		helper(f)
	}()
	<-done
	return f.msg
}

func TestClosePaused(t *testing.T) {
	s, err := Start(t.Context(), Options{Name: "close-paused"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= killGrace {
		t.Errorf("Close of a paused server took %v: SIGTERM was not delivered", d)
	}
	if err := s.Pause(); err == nil {
		t.Error("Pause after Close: want an error")
	}
}

func TestRestartPortTaken(t *testing.T) {
	s := NewServer(t, Options{Name: "port-taken"})
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = s.Restart(t.Context())
	if err == nil {
		t.Fatal("Restart on a taken port: want an error")
	}
	if !strings.Contains(err.Error(), "Address already in use") {
		t.Errorf("error does not carry the log tail: %v", err)
	}
	l.Close()
	if err := s.Restart(t.Context()); err != nil {
		t.Fatalf("Restart once the port is free: %v", err)
	}
}
