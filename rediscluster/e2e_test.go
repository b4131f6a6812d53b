package rediscluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/sessions"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/internal/webtest"
	"github.com/shardsession/shardsession/rediscluster"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/session/gorillastore"
	"github.com/shardsession/shardsession/session/scsstore"
	"github.com/shardsession/shardsession/store"
)

// loginApp serves webtest's login script with a session.Manager.
func loginApp(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, m.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		m.RenewToken(r.Context())
		m.Put(r.Context(), "user", r.FormValue("user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		m.Destroy(r.Context())
	})
	return m.LoadAndSave(mux)
}

// sessionIDs returns the IDs of the sessions stored in c.
func sessionIDs(t *testing.T, c *rediscluster.Cluster) []string {
	t.Helper()
	var ids []string
	if err := c.Iterate(context.Background(), func(id string, _ map[string]string) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// The session Manager end to end through net/http on a Redis Cluster:
// login, whoami, logout; then logins that renew the session until the new
// ID lives on another master than the old one, the user staying logged in.
func TestManagerOnRedisCluster(t *testing.T) {
	c, _ := clustertest.NewRedisCluster(t, redistest.RedisClusterOptions{}, rediscluster.Options{})
	m := session.New(c)
	m.Cookie.Name, m.Cookie.Secure = "session", false
	base := webtest.Serve(t, loginApp(m))
	webtest.LoginLogout(t, base)
	if ids := sessionIDs(t, c); len(ids) != 0 {
		t.Fatalf("sessions left after logout: %v", ids)
	}

	b := webtest.New(t)
	masters := map[string]bool{}
	for i := 0; len(masters) < 2; i++ {
		if i == 30 {
			t.Fatalf("30 renewals stayed on %v", masters)
		}
		if code, body := b.Post(base+"/login", url.Values{"user": {fmt.Sprint("ada", i)}}); code != http.StatusOK {
			t.Fatalf("login: %d %s", code, body)
		}
		ids := sessionIDs(t, c) // the renewal deleted the old ID
		if len(ids) != 1 {
			t.Fatalf("after login %d: sessions %v, want one", i, ids)
		}
		masters[c.Locate(ids[0])] = true
		if _, body := b.Get(base + "/whoami"); strings.TrimSpace(body) != fmt.Sprint("ada", i) {
			t.Fatalf("whoami after login %d = %q", i, body)
		}
	}
	b.Post(base+"/logout", nil)
	if _, body := b.Get(base + "/whoami"); strings.TrimSpace(body) != "" {
		t.Fatalf("whoami after logout = %q", body)
	}
}

// The scs and gorilla adapters' round trip on a Redis Cluster.
func TestAdaptersOnRedisCluster(t *testing.T) {
	c, _ := clustertest.NewRedisCluster(t, redistest.RedisClusterOptions{}, rediscluster.Options{})

	t.Run("scs", func(t *testing.T) {
		st := scsstore.New(c)
		exp := time.Now().Add(time.Minute)
		for _, tok := range []string{"t1", "t2", "t3", "t4", "t5", "t6"} {
			if err := st.Commit(tok, []byte("data-"+tok), exp); err != nil {
				t.Fatal(err)
			}
		}
		if b, found, err := st.Find("t1"); err != nil || !found || string(b) != "data-t1" {
			t.Fatalf("Find = %q, %v, %v", b, found, err)
		}
		if all, err := st.All(); err != nil || len(all) != 6 {
			t.Fatalf("All = %d records, %v; want 6", len(all), err)
		}
		if err := st.Delete("t1"); err != nil {
			t.Fatal(err)
		}
		if _, found, err := st.Find("t1"); err != nil || found {
			t.Fatalf("Find after Delete: %v, %v", found, err)
		}
		sm := scs.New()
		sm.Store = st
		sm.Cookie.Secure = false
		mux := http.NewServeMux()
		mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, sm.GetString(r.Context(), "user")) })
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			_ = sm.RenewToken(r.Context())
			sm.Put(r.Context(), "user", r.FormValue("user"))
		})
		mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) { _ = sm.Destroy(r.Context()) })
		webtest.LoginLogout(t, webtest.Serve(t, sm.LoadAndSave(mux)))
	})

	t.Run("gorilla", func(t *testing.T) {
		gs, err := gorillastore.New(c, []byte("0123456789abcdef0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		gs.Options.Secure = false
		save := func(w http.ResponseWriter, r *http.Request, change func(*sessions.Session)) {
			s, _ := gs.Get(r, "app")
			change(s)
			if err := s.Save(r, w); err != nil {
				code := http.StatusInternalServerError
				if errors.Is(err, store.ErrUnavailable) {
					code = http.StatusServiceUnavailable
				}
				http.Error(w, err.Error(), code)
			}
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
			s, _ := gs.Get(r, "app")
			user, _ := s.Values["user"].(string)
			fmt.Fprintln(w, user)
		})
		mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
			save(w, r, func(s *sessions.Session) { s.Values["user"] = r.FormValue("user") })
		})
		mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
			save(w, r, func(s *sessions.Session) { s.Options.MaxAge = -1 })
		})
		webtest.LoginLogout(t, webtest.Serve(t, mux))
	})
}
