package idleconn

import (
	"net"
	"testing"
	"time"
)

// nopConn is a net.Conn whose reads and writes do nothing, so that a
// benchmark measures what the wrapper adds.
type nopConn struct{ net.Conn }

func (nopConn) Write(b []byte) (int, error) { return len(b), nil }
func (nopConn) Read(b []byte) (int, error)  { return len(b), nil }
func (nopConn) Close() error                { return nil }

// What counting costs a command: one write and one read on a connection,
// bare and watched by a Reaper.
func BenchmarkCommand(b *testing.B) {
	buf := make([]byte, 64)
	command := func(b *testing.B, c net.Conn) {
		for b.Loop() {
			c.Write(buf)
			c.Read(buf)
		}
	}
	b.Run("conn=bare", func(b *testing.B) { command(b, nopConn{}) })
	b.Run("conn=watched", func(b *testing.B) {
		r := New(time.Hour)
		defer r.Close()
		command(b, &idleConn{Conn: nopConn{}, r: r})
	})
}
