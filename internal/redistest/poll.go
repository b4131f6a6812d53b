package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// pollInterval is the pause between two checks of a poll loop.
const pollInterval = 25 * time.Millisecond

// fatalError marks an error that ends a poll loop at once.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

// fatal wraps err so that poll stops retrying.
func fatal(err error) error { return fatalError{err} }

// poll calls check until it returns nil, returns an error made with fatal,
// or ctx ends. The last retryable error is reported with ctx's error.
func poll(ctx context.Context, check func(ctx context.Context) error) error {
	t := time.NewTimer(0)
	defer t.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-t.C:
		}
		err := check(ctx)
		if err == nil {
			return nil
		}
		var f fatalError
		if errors.As(err, &f) {
			return f.err
		}
		last = err
		t.Reset(pollInterval)
	}
}

// ping sends one inline PING to addr over a fresh connection (TLS with
// cfg when not nil) and reports whether the answer was +PONG. A LOADING
// reply counts as not ready.
func ping(ctx context.Context, addr string, cfg *tls.Config) error {
	var c net.Conn
	var err error
	if cfg != nil {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 250 * time.Millisecond}, Config: cfg}
		c, err = d.DialContext(ctx, "tcp", addr)
	} else {
		d := net.Dialer{Timeout: 250 * time.Millisecond}
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimSpace(line)
	if line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
