// Command chi uses shardsession with github.com/go-chi/chi: the session
// middleware is plain net/http middleware, so r.Use takes it as it is.
//
//	SHARDSESSION_SHARDS=s0=127.0.0.1:6379,s1=127.0.0.1:6380 go run ./examples/chi
package main

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/shardsession/shardsession/examples/internal/run"
	"github.com/shardsession/shardsession/session"
)

func main() { run.Main(newRouter) }

// newRouter serves GET /whoami, POST /login (form field user) and
// POST /logout.
func newRouter(sessions *session.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(sessions.LoadAndSave)
	r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, sessions.GetString(r.Context(), "user"))
	})
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		sessions.RenewToken(r.Context())
		sessions.Put(r.Context(), "user", r.FormValue("user"))
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	})
	return r
}
