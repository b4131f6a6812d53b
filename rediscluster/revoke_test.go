package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// cutReplication stops master from feeding its replicas, which stay up and
// keep their place in the cluster: the master refuses the replication
// handshake (an ACL without PSYNC and SYNC for the user replicas connect
// as) and drops the links it has. A replica cut off this way misses every
// later write, and, its link down only for moments, may still be promoted
// when the master dies.
func cutReplication(t *testing.T, master *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	c := master.Client()
	defer c.Close()
	if err := c.Do(ctx, "ACL", "SETUSER", "default", "-psync", "-sync").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "replica").Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 5*time.Second, func(ctx context.Context) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "connected_slaves:0") {
			return fmt.Errorf("replicas still linked: %s", info)
		}
		return nil
	})
}

// A logout that the master's replica missed (its link cut), the master
// SIGKILLed, the replica promoted: without the revocation journal the
// session comes back on the new master; with it, Delete journalled the
// logout on another master, and the session never loads again: the first
// load after the failover finds it revoked, or, when another request
// reached the new master first, the replay has deleted it there.
func TestRevocationSurvivesFailover(t *testing.T) {
	tests := []struct {
		name     string
		ttl      time.Duration // Durability.RevocationTTL
		comeBack bool
		// touchFirst sends another session's request to the new master
		// before any load of the deleted one: the replay, not the check on
		// load, must then delete it.
		touchFirst bool
		// replayFirst replays the journal on the new master before the
		// store sends anything after the failover, its slot table still
		// naming the killed master (as a table read from a node whose
		// gossip lags does): the replay must not go by the table.
		replayFirst bool
	}{
		{"journal off", -1, true, false, false},
		{"journal, checked on load", 0, false, false, false},
		{"journal, replayed", 0, false, true, false},
		{"journal, replayed with a stale slot table", 0, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := redistest.NewRedisCluster(t, redistest.RedisClusterOptions{Masters: 3, Replicas: 1})
			c, err := New(Options{Addrs: rc.Addrs(), Durability: Durability{SaveReplicas: 1, Timeout: time.Second, RevocationTTL: tt.ttl}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			ctx := context.Background()
			if _, err := c.Save(ctx, "bye", store.Write{Mode: store.Create, Set: map[string][]byte{"v:user": []byte("ada")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatalf("Save with WAIT 1: %v", err)
			}
			if tt.ttl >= 0 {
				// The store learns the nodes' roles from its first requests.
				redistest.Eventually(t, 5*time.Second, func(ctx context.Context) error {
					if c.revocation.topo.Load() == nil {
						_, _ = c.Exists(ctx, "bye")
						return errors.New("roles not read yet")
					}
					return nil
				})
			}
			old, err := rc.MasterForKey(ctx, c.Key("bye"))
			if err != nil {
				t.Fatal(err)
			}
			other := "" // a session of the same master
			for i := 0; other == "" || c.Locate(other) != old.Addr(); i++ {
				other = fmt.Sprint("other", i)
			}
			cutReplication(t, old)

			err = c.Delete(ctx, "bye")
			switch {
			case tt.comeBack && !errors.Is(err, store.ErrNotReplicated):
				t.Fatalf("unconfirmed Delete without journal = %v, want ErrNotReplicated", err)
			case !tt.comeBack && err != nil:
				t.Fatalf("unconfirmed Delete with journal = %v, want nil", err)
			}
			if err := old.Kill(); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			redistest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
				if err := rc.WaitOK(ctx); err != nil {
					return err
				}
				m, err := rc.MasterForKey(ctx, c.Key("bye"))
				if err != nil {
					return err
				}
				if m == old {
					return fmt.Errorf("slot still owned by the killed %s", old.Name)
				}
				return nil
			})
			t.Logf("replica promoted %v after the kill", time.Since(start).Round(10*time.Millisecond))

			if tt.replayFirst {
				m, err := rc.MasterForKey(ctx, c.Key("bye"))
				if err != nil {
					t.Fatal(err)
				}
				c.replay(m.Addr())
				if s := c.Stats(); s.Replayed != 1 {
					t.Fatalf("stats %+v after the replay on %s, want 1 session replayed", s, m.Name)
				}
			}
			if tt.touchFirst {
				redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
					_, err := c.Exists(ctx, other)
					return err
				})
				redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
					if s := c.Stats(); s.Replayed != 1 {
						return fmt.Errorf("not replayed yet: %+v", s)
					}
					return nil
				})
			}

			// Loads fail closed until the client reaches the new master;
			// then the session is back, or never.
			var found bool
			redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
				_, found, err = c.Load(ctx, "bye", store.LoadOptions{})
				return err
			})
			for range 10 {
				if _, f, err := c.Load(ctx, "bye", store.LoadOptions{}); err != nil || f != found {
					t.Fatalf("Load again = %v, %v; first %v", f, err, found)
				}
			}
			if found != tt.comeBack {
				t.Fatalf("session after the failover: found %v, want %v (stats %+v)", found, tt.comeBack, c.Stats())
			}
			s := c.Stats()
			t.Logf("stats %+v", s)
			if tt.comeBack {
				return
			}
			if s.UnconfirmedDeletes != 1 || s.Journalled != 1 || s.Failovers < 1 {
				t.Fatalf("stats %+v, want 1 unconfirmed delete journalled, a failover seen", s)
			}
			// The replay deletes it on the new master, whoever loads it.
			redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
				if n, err := c.Client().Exists(ctx, c.Key("bye")).Result(); err != nil || n != 0 {
					return fmt.Errorf("key on the new master: %d, %v", n, err)
				}
				return nil
			})
			switch s := c.Stats(); {
			case (tt.touchFirst || tt.replayFirst) && (s.Replayed != 1 || s.RevokedOnLoad != 0):
				t.Fatalf("stats %+v, want the session deleted by the replay, before any load", s)
			case !tt.touchFirst && s.Replayed+s.RevokedOnLoad < 1:
				// The first load starts the replay: either may delete it
				// first, and both when the load read it before the replay's
				// DEL.
				t.Fatalf("stats %+v: deleted neither by the replay nor on load", s)
			}
		})
	}
}
