// Command gin uses shardsession with github.com/gin-gonic/gin. A
// *gin.Engine is an http.Handler, so the session middleware wraps the whole
// engine; handlers reach the session through c.Request.Context().
//
//	SHARDSESSION_SHARDS=s0=127.0.0.1:6379,s1=127.0.0.1:6380 go run ./examples/gin
package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shardsession/shardsession/examples/internal/run"
	"github.com/shardsession/shardsession/session"
)

func main() { run.Main(newEngine) }

// newEngine serves GET /whoami, POST /login (form field user) and
// POST /logout.
func newEngine(sessions *session.Manager) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/whoami", func(c *gin.Context) {
		c.String(http.StatusOK, "%s\n", sessions.GetString(c.Request.Context(), "user"))
	})
	r.POST("/login", func(c *gin.Context) {
		sessions.RenewToken(c.Request.Context())
		sessions.Put(c.Request.Context(), "user", c.PostForm("user"))
		c.Status(http.StatusNoContent)
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c.Request.Context()); err != nil {
			c.String(http.StatusServiceUnavailable, "try again")
			return
		}
		c.Status(http.StatusNoContent)
	})
	// The middleware goes around the engine, not inside it (r.Use): it must
	// see the response before gin writes its header, to set the cookie.
	return sessions.LoadAndSave(r)
}
