package rediscluster

import (
	"errors"
	"net"
	"testing"
)

func TestMoveCounters(t *testing.T) {
	tests := []struct {
		err  error
		want MoveStats
	}{
		{replyError("ASK 3999 127.0.0.1:6381"), MoveStats{Ask: 1}},
		{replyError("MOVED 3999 127.0.0.1:6381"), MoveStats{Moved: 1}},
		{replyError("TRYAGAIN Multiple keys request during rehashing of slot"), MoveStats{TryAgain: 1}},
		{replyError("CLUSTERDOWN The cluster is down"), MoveStats{ClusterDown: 1}},
		{replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), MoveStats{}},
		{errors.New("MOVED but not a reply"), MoveStats{}},
		{nil, MoveStats{}},
	}
	for _, tt := range tests {
		c := &Cluster{}
		c.moves.add(tt.err)
		if got := c.MoveStats(); got != tt.want || got.Total() != tt.want.Total() {
			t.Errorf("after %v: %+v, want %+v", tt.err, got, tt.want)
		}
	}
	if got := (MoveStats{Ask: 3, Gone: 2}).Sub(MoveStats{Ask: 1, Gone: 2}); got != (MoveStats{Ask: 2}) {
		t.Errorf("Sub = %+v", got)
	}
}

// The test's reply counter finds replies split across reads, and counts
// each once.
func TestReplyCounter(t *testing.T) {
	tests := []struct {
		name  string
		reads []string
		want  MoveStats
	}{
		{"first reply", []string{"-MOVED 1 a:1\r\n"}, MoveStats{Moved: 1}},
		{"one read", []string{"+OK\r\n-ASK 1 a:1\r\n-TRYAGAIN x\r\n"}, MoveStats{Ask: 1, TryAgain: 1}},
		{"split mark", []string{"+OK\r\n-MO", "VED 1 a:1\r\n"}, MoveStats{Moved: 1}},
		{"mark in the tail twice", []string{"+OK\r\n-ASK ", "1 a:1\r\n", ":1\r\n"}, MoveStats{Ask: 1}},
		{"long mark split", []string{":1\r\n-CLUSTE", "RDOWN down\r\n"}, MoveStats{ClusterDown: 1}},
		{"in a value", []string{"$9\r\nv-MOVED x\r\n"}, MoveStats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &replyCounter{}
			server, client := net.Pipe()
			go func() {
				for _, r := range tt.reads {
					server.Write([]byte(r))
				}
				server.Close()
			}()
			conn := &countingConn{Conn: client, h: h, tail: []byte("\r\n")}
			buf := make([]byte, 64)
			for {
				if _, err := conn.Read(buf); err != nil {
					break
				}
			}
			if got := h.snapshot(); got != tt.want {
				t.Fatalf("counted %+v, want %+v", got, tt.want)
			}
		})
	}
}
