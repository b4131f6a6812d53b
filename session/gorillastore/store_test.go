package gorillastore_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/sessions"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/internal/webtest"
	"github.com/shardsession/shardsession/session/gorillastore"
	"github.com/shardsession/shardsession/shard"
)

var _ sessions.Store = (*gorillastore.Store)(nil)

const (
	name = "app"
	key  = "0123456789abcdef0123456789abcdef"
)

// app is the usual gorilla/sessions program: store.Get, change Values,
// session.Save.
func app(store sessions.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, name)
		if errors.Is(err, shard.ErrUnavailable) {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		user, _ := s.Values["user"].(string)
		fmt.Fprintln(w, user)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, name)
		s.Values["user"] = r.FormValue("user")
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, name)
		s.Options.MaxAge = -1
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	return mux
}

func newStore(t *testing.T, hashKey string) (*gorillastore.Store, *redistest.Topology) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	store, err := gorillastore.New(c, []byte(hashKey))
	if err != nil {
		t.Fatal(err)
	}
	store.Options.Secure = false // httptest serves plain HTTP
	return store, top
}

func TestLoginLogoutThroughGorilla(t *testing.T) {
	store, _ := newStore(t, key)
	srv := httptest.NewServer(app(store))
	defer srv.Close()
	webtest.LoginLogout(t, srv.URL)
}

func TestNewRequiresKey(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1})
	if _, err := gorillastore.New(c); !errors.Is(err, gorillastore.ErrNoKeys) {
		t.Fatalf("New without keys = %v, want ErrNoKeys", err)
	}
}

// A cookie that was not signed by the store's key names no session.
func TestForgedCookie(t *testing.T) {
	store, _ := newStore(t, key)
	srv := httptest.NewServer(app(store))
	defer srv.Close()
	b := webtest.New(t)
	b.Post(srv.URL+"/login", map[string][]string{"user": {"ada"}})

	other, _ := newStore(t, "another key, another signature")
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: name, Value: b.Cookie(srv.URL, name)})
	s, err := other.New(r, name)
	if err == nil || !s.IsNew || len(s.Values) != 0 {
		t.Fatalf("forged cookie: err %v, IsNew %v, values %v; want an error and a new empty session", err, s.IsNew, s.Values)
	}
}

// A session whose shard is down is an error, never a new empty session that
// a Save would write over the stored one.
func TestShardDown(t *testing.T) {
	store, top := newStore(t, key)
	srv := httptest.NewServer(app(store))
	defer srv.Close()
	b := webtest.New(t)
	b.Post(srv.URL+"/login", map[string][]string{"user": {"ada"}})
	for _, s := range top.Shards {
		if err := s.Primary.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: name, Value: b.Cookie(srv.URL, name)})
	if _, err := store.New(r, name); !errors.Is(err, shard.ErrUnavailable) {
		t.Fatalf("New with the shard down = %v, want ErrUnavailable", err)
	}
	if code, _ := b.Get(srv.URL + "/whoami"); code != http.StatusServiceUnavailable {
		t.Fatalf("whoami with the shard down = %d, want 503", code)
	}
}

// gorilla/sessions v1.4.0's TestGH2MaxLength (store_test.go), run against
// this Store: only the set-up lines differ. The FilesystemStore it was
// written for starts with a 4096-byte limit; this Store's default is
// DefaultMaxLength, so the set-up sets 4096 to reach the same start.
func TestGH2MaxLength(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1})
	store, err := gorillastore.New(c, []byte("some key"))
	if err != nil {
		t.Fatal(err)
	}
	store.MaxLength(4096)
	req, err := http.NewRequest("GET", "http://www.example.com", nil)
	if err != nil {
		t.Fatal("failed to create request", err)
	}
	w := httptest.NewRecorder()

	session, err := store.New(req, "my session")
	if err != nil {
		t.Fatal("failed to create session", err)
	}

	session.Values["big"] = make([]byte, base64.StdEncoding.DecodedLen(4096*2))
	err = session.Save(req, w)
	if err == nil {
		t.Fatal("expected an error, got nil")
	}

	store.MaxLength(4096 * 3) // A bit more than the value size to account for encoding overhead.
	err = session.Save(req, w)
	if err != nil {
		t.Fatal("failed to Save:", err)
	}
}

// The default bound suits sessions kept in Redis: a value of a few KiB
// (over securecookie's 4096-byte cookie default) saves and loads back.
func TestDefaultMaxLengthHoldsLargeSessions(t *testing.T) {
	store, _ := newStore(t, key)
	for _, tt := range []struct {
		size int
		ok   bool
	}{{2300, true}, {30 << 10, true}, {gorillastore.DefaultMaxLength, false}} {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			s, _ := store.New(r, name)
			s.Values["big"] = strings.Repeat("x", tt.size)
			w := httptest.NewRecorder()
			err := s.Save(r, w)
			if (err == nil) != tt.ok {
				t.Fatalf("Save of %d bytes: %v, want ok %v", tt.size, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			r = httptest.NewRequest("GET", "/", nil)
			for _, ck := range w.Result().Cookies() {
				r.AddCookie(ck)
			}
			back, err := store.New(r, name)
			if err != nil || back.IsNew || back.Values["big"] != s.Values["big"] {
				t.Fatalf("load back: err %v, IsNew %v", err, back.IsNew)
			}
		})
	}
}
