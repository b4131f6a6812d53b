// Command echo uses shardsession with github.com/labstack/echo:
// echo.WrapMiddleware turns the net/http session middleware into echo
// middleware; handlers reach the session through c.Request().Context().
//
//	SHARDSESSION_SHARDS=s0=127.0.0.1:6379,s1=127.0.0.1:6380 go run ./examples/echo
package main

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shardsession/shardsession/examples/internal/run"
	"github.com/shardsession/shardsession/session"
)

func main() { run.Main(newEcho) }

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
