// Command echo uses shardsession with github.com/labstack/echo:
// echo.WrapMiddleware turns the net/http session middleware into echo
// middleware; handlers reach the session through c.Request().Context().
//
//	SHARDSESSION_SHARDS=s0=127.0.0.1:6379,s1=127.0.0.1:6380 go run ./examples/echo
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/session"
)

func main() {
	shards, err := cluster.ParseShards(os.Getenv("SHARDSESSION_SHARDS"))
	if err != nil {
		log.Fatal(err)
	}
	c, err := cluster.New(cluster.Options{Shards: shards})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sessions := session.New(c)
	sessions.Cookie.Name, sessions.Cookie.Secure = "session", false // plain HTTP on localhost
	log.Fatal(http.ListenAndServe("localhost:8080", newEcho(sessions)))
}

// newEcho serves GET /whoami, POST /login (form field user) and
// POST /logout.
func newEcho(sessions *session.Manager) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.Use(echo.WrapMiddleware(sessions.LoadAndSave))
	e.GET("/whoami", func(c echo.Context) error {
		return c.String(http.StatusOK, sessions.GetString(c.Request().Context(), "user")+"\n")
	})
	e.POST("/login", func(c echo.Context) error {
		sessions.RenewToken(c.Request().Context())
		sessions.Put(c.Request().Context(), "user", c.FormValue("user"))
		return c.NoContent(http.StatusNoContent)
	})
	e.POST("/logout", func(c echo.Context) error {
		if err := sessions.Destroy(c.Request().Context()); err != nil {
			return c.String(http.StatusServiceUnavailable, "try again")
		}
		return c.NoContent(http.StatusNoContent)
	})
	return e
}
