package cluster

import (
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/shard"
)

// batch decides how a command to a shard's primary (a write, or a read it
// serves) is sent: alone, or through the shard's auto-pipeliner.
//
// go-redis's AutoPipeline (blocking face, one ordered batch stream per
// client) queues the commands of concurrent callers and writes them in one
// pipeline, so the server does one read and one write syscall per batch
// instead of per command. But it waits for commands to pile up: its flusher
// holds a batch for a silence gap (200 µs at least) after the arrivals it
// expects, so a caller alone on a shard paid 70–160 µs on top of its round
// trip (p50 183 µs against 108 µs for a plain client, 1 request in flight,
// docs/benchmarks.md). Hence the rule: a command sent while no other
// command to that primary is in flight goes out at once on the client (one
// round trip, nothing added); a command that finds others in flight joins
// the pipeliner, whose batches are then what they are for.
type batch struct {
	off   bool
	pipes sync.Map // *shard.Shard → *pipe
}

// pipe is a shard primary's auto-pipeliner and the count of commands in
// flight to that primary through the batch.
type pipe struct {
	ap       *redis.AutoPipeliner
	inflight atomic.Int64
}

func (p *pipe) done() { p.inflight.Add(-1) }

func noop() {}

// primary returns what one command to sh's primary is sent through, and a
// func to call once its reply is in: the client itself when the command is
// alone (or batching is off, or the pipeliner cannot be made), else the
// auto-pipeliner. The pipeliner belongs to the client and is closed with
// it.
func (b *batch) primary(sh *shard.Shard) (redis.Cmdable, func()) {
	if b.off {
		return sh.Primary(), noop
	}
	p := b.pipe(sh)
	if p == nil {
		return sh.Primary(), noop
	}
	if p.inflight.Add(1) == 1 {
		return sh.Primary(), p.done
	}
	return p.ap, p.done
}

// pipe returns sh's pipe, making it the first time; nil if go-redis cannot
// make an auto-pipeliner for the client.
func (b *batch) pipe(sh *shard.Shard) *pipe {
	if p, ok := b.pipes.Load(sh); ok {
		return p.(*pipe)
	}
	ap, err := sh.Primary().AutoPipeline()
	if err != nil {
		return nil
	}
	p, _ := b.pipes.LoadOrStore(sh, &pipe{ap: ap})
	return p.(*pipe)
}
