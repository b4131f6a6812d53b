package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/shardsession/shardsession/store"
)

// LoadOptions shape the clients of a Load.
type LoadOptions struct {
	// Clients is the number of concurrent web-like clients. Default 24.
	Clients int
	// Think is each client's pause between two requests. Default 5 ms.
	Think time.Duration
	// SaveReplicas is the cluster's Durability.SaveReplicas: 0 sends no
	// WAIT, 1 sends WAIT 1 after every write. A write that WAIT did not
	// confirm (store.ErrNotReplicated) counts as acknowledged, not as
	// confirmed.
	SaveReplicas int
	// LogoutEvery makes a client log out and in again every this many
	// requests. Default 40.
	LogoutEvery int
	// RequestTimeout bounds each request. Default 2 s.
	RequestTimeout time.Duration
}

func (o *LoadOptions) init() {
	if o.Clients <= 0 {
		o.Clients = 24
	}
	if o.Think <= 0 {
		o.Think = 5 * time.Millisecond
	}
	if o.LogoutEvery <= 0 {
		o.LogoutEvery = 40
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 2 * time.Second
	}
}

// Op is a kind of request.
type Op int

const (
	Login Op = iota
	Read
	Write
	Logout
)

// Event is one request a client made.
type Event struct {
	Op    Op
	Shard string
	ID    string
	Start time.Time
	End   time.Time
	Err   error
}

// session is what a client knows it was told about its session.
type session struct {
	id        string
	shard     string
	acked     int64 // the last counter value a write returned success for
	confirmed int64 // the last counter value WAIT confirmed on a replica
	n         int64 // the last counter value tried
	// logoutFailed: a logout returned an error, and may have been applied
	// all the same, then or later (a DEL on the primary that no replica
	// confirmed; a DEL still queued in the client when its request timed
	// out): from then on, the session being gone is not a loss.
	logoutFailed bool
}

// Load is clients using a cluster until Stop.
type Load struct {
	c      Client
	opt    LoadOptions
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	events     []Event
	sessions   []*session // live sessions, one per client, at Stop, and those found gone
	loggedOut  []string   // IDs whose logout was acknowledged
	loggedOutT []time.Time
}

// StartLoad starts opt.Clients clients against c.
func StartLoad(c Client, opt LoadOptions) *Load {
	opt.init()
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{c: c, opt: opt, cancel: cancel}
	for range opt.Clients {
		l.wg.Go(func() { l.client(ctx) })
	}
	return l
}

// Stop ends the clients and waits for them.
func (l *Load) Stop() {
	l.cancel()
	l.wg.Wait()
}

// newID returns a random session ID.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// client plays one user: log in, then read and write the session, logging
// out and in again now and then. A failed request is recorded and the
// client carries on with the same session, as a browser would retry.
func (l *Load) client(ctx context.Context) {
	var s *session
	var events []Event
	defer func() {
		l.mu.Lock()
		l.events = append(l.events, events...)
		if s != nil {
			l.sessions = append(l.sessions, s)
		}
		l.mu.Unlock()
	}()
	// Requests are not tied to ctx: Stop ends the loop, not a request in
	// flight, whose outcome (a logout applied, say) must be recorded. A
	// request counts for the shard its session was created on: on a Redis
	// Cluster the master of a slot changes with a failover, the slot does
	// not.
	do := func(op Op, s *session, f func(ctx context.Context) error) error {
		rctx, cancel := context.WithTimeout(context.Background(), l.opt.RequestTimeout)
		defer cancel()
		ev := Event{Op: op, ID: s.id, Shard: s.shard, Start: time.Now()}
		ev.Err = f(rctx)
		ev.End = time.Now()
		events = append(events, ev)
		return ev.Err
	}
	write := func(s *session, mode store.WriteMode) error {
		n := s.n + 1
		w := store.Write{Mode: mode, Set: map[string][]byte{"user": []byte("u"), "n": []byte(strconv.FormatInt(n, 10))}, ExpireAt: time.Now().Add(time.Hour)}
		return do(map[store.WriteMode]Op{store.Create: Login, store.Update: Write}[mode], s, func(ctx context.Context) error {
			s.n = n
			_, err := l.c.Save(ctx, s.id, w)
			switch {
			case err == nil:
				// With Durability.SaveReplicas set, nil means WAIT confirmed it.
				s.acked = n
				if l.opt.SaveReplicas > 0 {
					s.confirmed = n
				}
			case errors.Is(err, store.ErrNotReplicated):
				// On the primary, not confirmed: a web app would have told
				// the user it worked.
				s.acked = n
				return nil
			}
			return err
		})
	}
	for i := 0; ctx.Err() == nil; i++ {
		switch {
		case s == nil:
			cand := &session{id: newID()}
			cand.shard = l.c.Locate(cand.id)
			if write(cand, store.Create) == nil {
				s = cand
			}
		case i%l.opt.LogoutEvery == 0:
			if do(Logout, s, func(ctx context.Context) error { return l.c.Delete(ctx, s.id) }) == nil {
				l.mu.Lock()
				l.loggedOut = append(l.loggedOut, s.id)
				l.loggedOutT = append(l.loggedOutT, time.Now())
				l.mu.Unlock()
				s = nil
			} else {
				s.logoutFailed = true
			}
		case i%2 == 0:
			var gone bool
			do(Read, s, func(ctx context.Context) error {
				_, found, err := l.c.Load(ctx, s.id, store.LoadOptions{})
				gone = err == nil && !found
				if gone && s.acked > 0 && !s.logoutFailed {
					return errSessionGone
				}
				return err
			})
			if gone {
				s = l.dropGone(s)
			}
		default:
			if err := write(s, store.Update); errors.Is(err, store.ErrNotFound) {
				s = l.dropGone(s)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(l.opt.Think):
		}
	}
}

// dropGone gives up a session found missing and returns nil: the client
// logs in again. Unless a failed logout of its own explains it, the
// session goes to the verification, which counts its acknowledged writes
// as lost.
func (l *Load) dropGone(s *session) *session {
	if !s.logoutFailed {
		l.mu.Lock()
		l.sessions = append(l.sessions, s)
		l.mu.Unlock()
	}
	return nil
}

// errSessionGone marks a read that found no session where one was stored.
var errSessionGone = errors.New("chaos: session vanished")
