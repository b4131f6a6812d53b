// Package run is the main function the router examples share: it builds a
// session Manager over the shards named in SHARDSESSION_SHARDS and serves
// the example's handler on ADDR (default localhost:8080), so that each
// example's own file shows only what differs: how its router takes the
// session middleware.
package run

import (
	"log"
	"net/http"
	"os"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/session"
)

// Main serves newHandler(sessions) until the server fails.
func Main(newHandler func(sessions *session.Manager) http.Handler) {
	shards, err := cluster.ParseShards(os.Getenv("SHARDSESSION_SHARDS"))
	if err != nil {
		log.Fatalf("SHARDSESSION_SHARDS: %v (e.g. SHARDSESSION_SHARDS=s0=127.0.0.1:6379,s1=127.0.0.1:6380)", err)
	}
	c, err := cluster.New(cluster.Options{Shards: shards})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sessions := session.New(c)
	// Plain HTTP on localhost: browsers and curl drop a Secure (__Host-)
	// cookie there. Keep the defaults behind TLS.
	sessions.Cookie.Name, sessions.Cookie.Secure = "session", false
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "localhost:8080"
	}
	log.Printf("listening on http://%s", addr)
	log.Fatal(http.ListenAndServe(addr, newHandler(sessions)))
}
