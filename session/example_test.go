package session_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/shard"
)

// A Manager over a cluster of three shards, with the defaults: 30 min idle
// and 24 h absolute timeouts, a __Host- Secure HttpOnly SameSite=Lax cookie,
// gob values. (It compiles but does not run here: it needs the shards.)
func ExampleNew() {
	c, err := cluster.New(cluster.Options{Shards: []shard.Options{
		{Name: "s0", Addr: "10.0.0.1:6379"},
		{Name: "s1", Addr: "10.0.0.2:6379"},
		{Name: "s2", Addr: "10.0.0.3:6379"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	m := session.New(c)
	m.IdleTimeout = -1 // no idle timeout, only the absolute one; set fields before serving
	_ = m
}

// LoadAndSave loads the request's session before the handler runs and
// saves it, if it changed, before the response is written. Handlers read
// and write the session through the request's context.
func ExampleManager_LoadAndSave() {
	m := exampleManager()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password ...
		if err := m.RenewToken(r.Context()); err != nil { // a new token at login: no fixation
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		m.Put(r.Context(), "user", r.FormValue("user"))
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello", m.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	log.Fatal(http.ListenAndServe(":8080", m.LoadAndSave(mux)))
}
