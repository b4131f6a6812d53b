package shard

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Observer is told about every command (or pipeline) that a shard's clients
// send: the seam for metrics (package metrics), traces and logs. It is
// called on the request path after each command completes, so it must be
// fast and safe for concurrent use. Options.Observer installs it.
type Observer interface {
	ObserveCommand(Command)
}

// Command describes one completed command or pipeline.
type Command struct {
	// Shard is the shard's name.
	Shard string
	// Node is the address of the client's node ("host:port"; for a
	// Sentinel-managed client, whatever go-redis reports as its address).
	Node string
	// Role is "primary" or "replica".
	Role string
	// Name is the command's name in lower case ("hgetall", "evalsha"), or
	// "pipeline".
	Name string
	// Duration is how long the command took, from the client's side.
	Duration time.Duration
	// Err is the command's error; nil on success. Absence (redis.Nil), a
	// script cache miss that go-redis retries (NOSCRIPT) and a CLIENT
	// SETINFO that an older Redis does not know (go-redis sends it on each
	// new connection and ignores the answer) are not errors.
	Err error
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Command)

// ObserveCommand calls f(c).
func (f ObserverFunc) ObserveCommand(c Command) { f(c) }

// Observers returns an Observer that tells each of obs in turn; nil ones
// are skipped.
func Observers(obs ...Observer) Observer {
	return ObserverFunc(func(c Command) {
		for _, o := range obs {
			if o != nil {
				o.ObserveCommand(c)
			}
		}
	})
}

// LogErrors returns an Observer that logs every failed command to logger at
// level Warn, with the shard, node, role and command. Keys and arguments
// (which hold session IDs) are never logged.
func LogErrors(logger *slog.Logger) Observer {
	return ObserverFunc(func(c Command) {
		if c.Err != nil {
			logger.Warn("shardsession: redis command failed", "shard", c.Shard, "node", c.Node, "role", c.Role,
				"command", c.Name, "duration", c.Duration, "err", c.Err)
		}
	})
}

// instrument installs opt.Observer on every client of s.
func (s *Shard) instrument(opt Options) {
	if opt.Observer == nil {
		return
	}
	s.primary.AddHook(observeHook{o: opt.Observer, shard: s.name, node: s.primary.Options().Addr, role: "primary"})
	for _, r := range s.replicas {
		s.instrumentReplica(r, opt)
	}
}

// instrumentReplica installs opt.Observer on r, a replica's client.
func (s *Shard) instrumentReplica(r *redis.Client, opt Options) {
	if opt.Observer != nil {
		r.AddHook(observeHook{o: opt.Observer, shard: s.name, node: r.Options().Addr, role: "replica"})
	}
}

// observeHook is a go-redis hook that times commands for an Observer.
type observeHook struct {
	o                 Observer
	shard, node, role string
}

func (h observeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h observeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(cmd.Name(), start, err)
		return err
	}
}

func (h observeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		// A pipeline's error is its first failed command's: judge each
		// command on its own (connection set-up pipelines CLIENT SETINFO).
		failed := err
		if err != nil {
			failed = nil
			for _, c := range cmds {
				if !ignored(c.Name(), c.Err()) {
					failed = c.Err()
					break
				}
			}
		}
		h.observe("pipeline", start, failed)
		return err
	}
}

func (h observeHook) observe(name string, start time.Time, err error) {
	if ignored(name, err) {
		err = nil
	}
	h.o.ObserveCommand(Command{Shard: h.shard, Node: h.node, Role: h.role, Name: name, Duration: time.Since(start), Err: err})
}

// ignored reports whether err, the outcome of command name, is one that
// go-redis expects and handles itself, so it is no failure.
func ignored(name string, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "NOSCRIPT") || (name == "client" && strings.HasPrefix(msg, "ERR unknown subcommand"))
}
