package redistest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// startAttempts is how many times a start is tried when the port turns out
// to be taken.
const startAttempts = 5

// node is the lifecycle shared by Server and Sentinel: one process of bin,
// on a fixed port once started, in its own directory, logging to a file.
type node struct {
	kind    string // "redis-server" or "redis-sentinel", for errors
	name    string
	bin     string
	dir     string
	ownDir  bool
	logPath string
	// args returns the command-line arguments for a start on port; it may
	// write files (the sentinel config).
	args func(port int) ([]string, error)
	// ready is called after PING answers; nil means PING is enough.
	ready func(ctx context.Context) error
	// tls, when set, is how clients of the node connect (it listens for
	// TLS only).
	tls *tls.Config

	mu      sync.Mutex
	port    int
	p       *proc
	closed  bool
	removed bool
}

// prepareDir sets n.dir to dir (created if missing) or to a new temp dir
// that Close removes.
func (n *node) prepareDir(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "redistest-"+n.name+"-")
		if err != nil {
			return fmt.Errorf("redistest: start %s: %w", n.name, err)
		}
		n.dir, n.ownDir = d, true
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("redistest: start %s: %w", n.name, err)
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return fmt.Errorf("redistest: start %s: %w", n.name, err)
		}
		n.dir = abs
	}
	return nil
}

// addr returns 127.0.0.1:port.
func (n *node) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
}

// launchLocked starts the process and waits until it is ready. With
// samePort false it picks a free port and retries with another one if the
// bind fails; with samePort true it retries the same port a few times.
// n.mu must be held.
func (n *node) launchLocked(ctx context.Context, samePort bool) error {
	var err error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port := n.port
		if !samePort {
			if port, err = freePort(); err != nil {
				return err
			}
		}
		var retry bool
		retry, err = n.launchOnceLocked(ctx, port)
		if err == nil || !retry || ctx.Err() != nil {
			break
		}
		if samePort {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond): // let the old socket go
			}
		}
	}
	if err != nil {
		return fmt.Errorf("redistest: start %s %s: %w", n.kind, n.name, err)
	}
	return nil
}

// launchOnceLocked makes one attempt to start on port. retry reports that
// the port was taken.
func (n *node) launchOnceLocked(ctx context.Context, port int) (retry bool, err error) {
	args, err := n.args(port)
	if err != nil {
		return false, err
	}
	from := fileSize(n.logPath)
	p, err := startProc(n.bin, args, n.dir)
	if err != nil {
		return false, err
	}
	n.port, n.p = port, p
	err = poll(ctx, func(ctx context.Context) error {
		if p.exited() {
			return fatal(exitError(p))
		}
		if !listening(n.logPath, from) {
			// Until this process says it listens, a PING may reach
			// another one that holds the port (a test binary of another
			// package), and this one then exits: "Address already in
			// use". Seen once: a test counted another's keys.
			return errNotListening
		}
		return ping(ctx, n.addr(), n.tls)
	})
	if err == nil && n.ready != nil {
		err = n.ready(ctx)
	}
	if err == nil {
		return false, nil
	}
	_ = p.kill()
	retry = bindFailed(n.logPath, from)
	return retry, fmt.Errorf("%w%s", err, logTail(n.logPath, from))
}

// restart starts the process again on the same port and dir.
func (n *node) restart(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.removed {
		return fmt.Errorf("redistest: restart %s: closed and its dir removed", n.name)
	}
	if n.p != nil && !n.p.exited() {
		return fmt.Errorf("redistest: restart %s: still running", n.name)
	}
	if err := n.launchLocked(ctx, true); err != nil {
		return err
	}
	n.closed = false
	return nil
}

// close stops the process (SIGTERM, SIGKILL after a grace period) and
// removes the dir if this package made it. It is idempotent.
func (n *node) close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	if n.p != nil {
		if err := n.p.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.ownDir && !n.removed {
		if err := os.RemoveAll(n.dir); err != nil {
			errs = append(errs, err)
		}
		n.removed = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redistest: close %s: %w", n.name, err)
	}
	return nil
}

// kill sends SIGKILL and waits for the exit; the dir stays.
func (n *node) kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil {
		return nil
	}
	if err := n.p.kill(); err != nil {
		return fmt.Errorf("redistest: kill %s: %w", n.name, err)
	}
	return nil
}

// pause sends SIGSTOP; the process must be running.
func (n *node) pause() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil || n.p.exited() {
		return fmt.Errorf("redistest: pause %s: not running", n.name)
	}
	if err := n.p.signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("redistest: pause %s: %w", n.name, err)
	}
	return nil
}

// resume sends SIGCONT; a process that is not running is left alone.
func (n *node) resume() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil {
		return nil
	}
	if err := n.p.signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("redistest: resume %s: %w", n.name, err)
	}
	return nil
}

// running reports whether the process is alive.
func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.p != nil && !n.p.exited()
}

// pid returns the process ID, or 0 when the process is not running.
func (n *node) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil || n.p.exited() {
		return 0
	}
	return n.p.cmd.Process.Pid
}
