// Command nethttp is the smallest shardsession web app: net/http's
// ServeMux wrapped in the session middleware. Run it against your shards:
//
//	SHARDSESSION_SHARDS=s0=127.0.0.1:6379,s1=127.0.0.1:6380 go run ./examples/nethttp
//	curl -c jar -b jar -d user=ada localhost:8080/login; curl -b jar localhost:8080/whoami
package main

import (
	"fmt"
	"net/http"

	"github.com/shardsession/shardsession/examples/internal/run"
	"github.com/shardsession/shardsession/session"
)

func main() { run.Main(newHandler) }

// newHandler serves GET /whoami, POST /login (form field user) and
// POST /logout, with sessions loaded and saved by the middleware.
func newHandler(sessions *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, sessions.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		sessions.RenewToken(r.Context()) // a new token at login: no session fixation
		sessions.Put(r.Context(), "user", r.FormValue("user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Destroy(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	})
	return sessions.LoadAndSave(mux)
}
