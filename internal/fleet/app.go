package fleet

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/shardsession/shardsession/session"
)

// WhoAmI is what a node knows about the request's session.
type WhoAmI struct {
	User  string `json:"user"`  // "" when logged out
	Node  string `json:"node"`  // the web node that answered
	Shard string `json:"shard"` // the shard holding the session, "" if none
	// Read is which node of the shard served the session: "replica" or
	// "primary"; "" when nothing was read (no session yet).
	Read string `json:"read"`
	// ReadNode is that node's address.
	ReadNode string `json:"read_node,omitempty"`
	// Retried is true when a replica was asked first but was behind the
	// user's last write (read-your-writes), so the primary answered.
	Retried bool `json:"retried,omitempty"`
}

// App is one web node's handler: GET / (a page), GET /whoami (JSON),
// POST /login (form field "user"), POST /logout.
func App(m *session.Manager, node string) http.Handler {
	mux := http.NewServeMux()
	whoami := func(r *http.Request) WhoAmI {
		shard, _ := m.Shard(r.Context())
		w := WhoAmI{User: m.GetString(r.Context(), "user"), Node: node, Shard: shard}
		if info, ok := m.ReadFrom(r.Context()); ok {
			w.Read, w.ReadNode, w.Retried = "primary", info.Node, info.Retried
			if info.Replica {
				w.Read = "replica"
			}
		}
		return w
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, whoami(r))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(whoami(r))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := strings.TrimSpace(r.FormValue("user"))
		if user == "" || len(user) > 64 {
			http.Error(w, "user: 1 to 64 characters", http.StatusBadRequest)
			return
		}
		// A new token on every change of privilege: a token planted in the
		// browser before login is worth nothing after it.
		m.RenewToken(r.Context())
		m.Put(r.Context(), "user", user)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, "logout failed, try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", node)
		mux.ServeHTTP(w, r)
	})
	return m.LoadAndSave(served)
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>shardsession demo</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>shardsession demo</h1>
{{if .User}}
<p id="hello">Hello, <b>{{.User}}</b>.</p>
<form method="post" action="/logout"><button id="logout">Log out</button></form>
{{else}}
<p id="hello">You are not logged in.</p>
<form method="post" action="/login"><input name="user" placeholder="your name" autofocus> <button id="login">Log in</button></form>
{{end}}
<p>This page was served by web node <b id="node">{{.Node}}</b>{{if .Shard}}; your session lives on shard <b id="shard">{{.Shard}}</b>{{end}}{{if .Read}}
and was read from its <b id="read">{{.Read}}</b> (<span id="read-node">{{.ReadNode}}</span>){{if .Retried}}: a replica was behind your last write, so the primary answered{{end}}{{end}}.
Reload: another node answers, and still knows you.</p>
</body></html>
`))
