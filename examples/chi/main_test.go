package main

import (
	"testing"

	"github.com/shardsession/shardsession/internal/webtest"
)

func TestLoginLogout(t *testing.T) {
	webtest.LoginLogout(t, webtest.Serve(t, newRouter(webtest.NewManager(t))))
}
