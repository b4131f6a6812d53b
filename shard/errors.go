package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/store"
)

// ErrUnavailable means a shard (or the node of it that a command needed)
// could not be reached or refused to serve. It is always wrapped with the
// shard's name; callers test for it with errors.Is. The operation may succeed
// when retried later: the data on the shard is not known to be gone.
var ErrUnavailable = store.ErrUnavailable

// unavailableReplies are Redis error replies that mean "this node cannot
// serve now", not "your command is wrong".
var unavailableReplies = []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "BUSY"}

// Wrap classifies err, a failure of a command sent to the shard named name.
// Network failures, timeouts and replies that mean the node cannot serve now
// become ErrUnavailable; any other error is only annotated with the name.
// nil and redis.Nil come back unchanged: absence is not a failure.
func Wrap(name string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	if IsUnavailable(err) {
		if errors.Is(err, ErrUnavailable) {
			return fmt.Errorf("shard %s: %w", name, err)
		}
		return fmt.Errorf("shard %s: %w: %w", name, ErrUnavailable, err)
	}
	return fmt.Errorf("shard %s: %w", name, err)
}

// IsUnavailable reports whether err means the node could not serve the
// command, as opposed to the command itself being wrong.
func IsUnavailable(err error) bool {
	var netErr net.Error
	var redisErr redis.Error
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrUnavailable), errors.Is(err, failover.ErrCircuitOpen),
		errors.As(err, &netErr),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout):
		return true
	case errors.As(err, &redisErr):
		msg := redisErr.Error()
		for _, p := range unavailableReplies {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
	}
	return false
}

// ErrBadOptions is wrapped by every validation error of New.
var ErrBadOptions = errors.New("shardsession: bad shard options")

// ErrNotPrimary is wrapped (with ErrUnavailable) by the error of a command
// whose new connection to a static shard's primary address reached a node
// that is not the primary: one that reports itself a replica (a managed
// endpoint still pointing at the demoted node), or the primary a switch
// already replaced. A write there would be refused or lost.
var ErrNotPrimary = errors.New("shardsession: the primary address reached a node that is not the primary")
