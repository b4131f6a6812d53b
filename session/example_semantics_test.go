package session_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/shard"
)

// exampleManager is a Manager over a cluster of three shards (the examples
// below compile but do not run: they need the shards).
func exampleManager() *session.Manager {
	c, err := cluster.New(cluster.Options{Shards: []shard.Options{
		{Name: "s0", Addr: "10.0.0.1:6379"}, {Name: "s1", Addr: "10.0.0.2:6379"}, {Name: "s2", Addr: "10.0.0.3:6379"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	return session.New(c)
}

// Login records the user; "log out my other devices" revokes every other
// session of the user, on every shard.
func ExampleManager_RevokeByUser() {
	m := exampleManager()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password ...
		m.RenewToken(r.Context()) // against fixation
		m.SetUser(r.Context(), "ada")
		m.RememberMe(r.Context(), r.FormValue("remember") == "on")
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		list, err := m.ListByUser(r.Context(), m.User(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		for _, s := range list {
			fmt.Fprintln(w, s.ID, s.Shard, s.LastSeen, s.Current)
		}
	})
	mux.HandleFunc("POST /logout-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := m.RevokeByUser(r.Context(), m.User(r.Context()), true)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%d other sessions ended\n", n)
	})
	log.Fatal(http.ListenAndServe(":8080", m.LoadAndSave(mux)))
}

// Optimistic concurrency: a save that would overwrite a concurrent one
// fails with ErrConflict (409), or is merged.
func ExampleManager_Commit_optimistic() {
	m := exampleManager()
	m.Optimistic = true
	m.Merge = func(stored, mine map[string]any) map[string]any {
		for k, v := range mine { // this request's values win, others' keys stay
			stored[k] = v
		}
		return stored
	}
	_ = m
}

// A handler that must not run concurrently with another request of the
// same session.
func ExampleManager_LoadAndSaveLocked() {
	m := exampleManager()
	checkout := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.ReadOnly(r.Context()) {
			http.Error(w, "busy, try again", http.StatusConflict)
			return
		}
		m.Put(r.Context(), "cart", nil)
	})
	http.Handle("/checkout", m.LoadAndSaveLocked(checkout))
}

// Every node can watch the sessions of the whole cluster.
func ExampleManager_WatchEvents() {
	m := exampleManager()
	m.PublishEvents = true
	go func() {
		err := m.WatchEvents(context.Background(), func(e session.Event) {
			log.Printf("session %s %s on %s", e.ID, e.Kind, e.Shard)
		})
		log.Print(err)
	}()
}
