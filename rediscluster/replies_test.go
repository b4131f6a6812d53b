package rediscluster

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
)

// replyCounter counts the MOVED, ASK, TRYAGAIN and CLUSTERDOWN replies
// that reach a cluster client, read off its connections (Dial). A hook
// would miss most: go-redis follows redirections of pipelined commands
// (the auto-pipeliner's) without calling node hooks. It scans the byte
// stream for an error reply at the start of a line, so a value holding
// "\r\n-MOVED " would count too; the tests' values hold digits.
type replyCounter struct {
	moved, ask, tryAgain, clusterDown atomic.Int64
}

// replyMarks are the error replies counted, each after the end of the
// previous reply.
var replyMarks = []string{"\r\n-MOVED ", "\r\n-ASK ", "\r\n-TRYAGAIN", "\r\n-CLUSTERDOWN"}

// Dial is a go-redis Dialer whose connections count into h.
func (h *replyCounter) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	// The stream is seen as starting after a line end, so that its first
	// reply counts like the others.
	return &countingConn{Conn: conn, h: h, tail: []byte("\r\n")}, nil
}

// snapshot returns the counts as MoveStats, to subtract per phase.
func (h *replyCounter) snapshot() MoveStats {
	return MoveStats{Ask: h.ask.Load(), Moved: h.moved.Load(), TryAgain: h.tryAgain.Load(), ClusterDown: h.clusterDown.Load()}
}

// countingConn counts marks in what it reads, across reads: tail keeps
// the last bytes of the previous read, fewer than the longest mark.
type countingConn struct {
	net.Conn
	h    *replyCounter
	tail []byte
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		buf := append(c.tail, p[:n]...)
		for i, m := range replyMarks {
			// A mark wholly inside the old tail was counted last time:
			// count only those that end in the new bytes.
			k := int64(bytes.Count(buf, []byte(m)) - bytes.Count(c.tail, []byte(m)))
			switch i {
			case 0:
				c.h.moved.Add(k)
			case 1:
				c.h.ask.Add(k)
			case 2:
				c.h.tryAgain.Add(k)
			case 3:
				c.h.clusterDown.Add(k)
			}
		}
		keep := min(len(buf), len("\r\n-CLUSTERDOWN")-1)
		c.tail = append([]byte(nil), buf[len(buf)-keep:]...)
	}
	return n, err
}
