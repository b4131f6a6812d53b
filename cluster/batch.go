package cluster

import (
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/shard"
)

// batch hands out the per-shard auto-pipeliners that single writes and
// primary reads go through. go-redis's AutoPipeline (blocking face, one
// ordered batch stream per client) queues the commands of concurrent
// callers and writes them in one pipeline while the previous one is on the
// wire; a caller still waits for its own reply, and a lone caller's command
// goes out at once, so the batching costs no latency. The server does less
// work too: one read and one write syscall per batch instead of per
// command.
type batch struct {
	off   bool
	pipes sync.Map // *shard.Shard → *redis.AutoPipeliner
}

// primary returns what a command to sh's primary (a write, or a read it
// serves) is sent through: its auto-pipeliner, or the client itself when
// batching is off or the pipeliner cannot be made. The pipeliner belongs
// to the client and is closed with it.
func (b *batch) primary(sh *shard.Shard) redis.Cmdable {
	if b.off {
		return sh.Primary()
	}
	if ap, ok := b.pipes.Load(sh); ok {
		return ap.(*redis.AutoPipeliner)
	}
	ap, err := sh.Primary().AutoPipeline()
	if err != nil {
		return sh.Primary()
	}
	b.pipes.Store(sh, ap)
	return ap
}
