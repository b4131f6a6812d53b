package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// killGrace is how long Close waits after SIGTERM before it sends SIGKILL.
const killGrace = 2 * time.Second

// proc is one running child process. A goroutine waits for it and closes
// done when it exits, so any number of callers can wait for the exit.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit error; read only after done is closed
}

// startProc starts bin with args in dir, with stdout and stderr discarded
// (the processes log to a file). It uses exec.Command, not
// CommandContext: the process outlives the context that started it.
func startProc(bin string, args []string, dir string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = io.Discard
	cmd.Stderr = io.Discard
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process; a process that already exited is not
// an error.
func (p *proc) signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// stop sends SIGTERM (and SIGCONT, in case the process is paused), waits
// up to killGrace for the exit, then kills it.
func (p *proc) stop() error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		return err
	}
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return p.kill()
	}
}

// logTail returns the last lines of the log file at path, starting at byte
// offset from, for error messages. It returns "" when there is nothing.
func logTail(path string, from int64) string {
	const maxBytes = 2048
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	start := max(from, st.Size()-maxBytes, 0)
	b := make([]byte, st.Size()-start)
	n, _ := f.ReadAt(b, start)
	s := strings.TrimSpace(string(b[:n]))
	if s == "" {
		return ""
	}
	return "\n--- tail of " + path + " ---\n" + s
}

// fileSize returns the size of the file at path, or 0.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// errNotListening is what a poll of a node whose log does not yet say it
// listens returns.
var errNotListening = errors.New("redistest: not listening yet")

// listening reports whether the log written since offset says the server
// has bound its port: redis-server's "Ready to accept connections", or
// Sentinel's "Sentinel ID is", both logged once its sockets are open.
func listening(logPath string, from int64) bool {
	f, err := os.Open(logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	log, err := io.ReadAll(io.NewSectionReader(f, from, math.MaxInt64-from))
	if err != nil {
		return false
	}
	return bytes.Contains(log, []byte("Ready to accept connections")) || bytes.Contains(log, []byte("Sentinel ID is"))
}

// bindFailed reports whether the log written since offset says the port
// was taken.
func bindFailed(logPath string, from int64) bool {
	return strings.Contains(logTail(logPath, from), "Address already in use")
}

// exitError describes why a process exited during start.
func exitError(p *proc) error {
	if p.err != nil {
		return fmt.Errorf("exited during start: %w", p.err)
	}
	return errors.New("exited during start")
}
