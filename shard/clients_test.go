package shard

import (
	"context"
	"crypto/tls"
	"net"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
)

// A Sentinel shard's primary client is made from the whole client
// template, as a static shard's is: only the address (and NodeAddress,
// which go-redis derives from it) and the dialer, which asks the sentinels
// for the address, differ.
func TestSentinelPrimaryKeepsTemplate(t *testing.T) {
	onConnect := func(context.Context, *redis.Conn) error { return nil }
	tmpl := func() *redis.Options {
		return &redis.Options{
			ClientName: "app", Username: "u", Password: "p", DB: 2, Protocol: 2,
			PoolSize: 7, MaxIdleConns: 3, ConnMaxIdleTime: time.Minute,
			DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 4 * time.Second,
			OnConnect: onConnect, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		}
	}
	static, err := New(Options{Name: "a", Addr: "127.0.0.1:1", NoIdentityCheck: true, Client: tmpl()})
	if err != nil {
		t.Fatal(err)
	}
	defer static.Close()
	sent, err := New(Options{Name: "a", Sentinel: &failover.Options{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}, Client: tmpl()})
	if err != nil {
		t.Fatal(err)
	}
	defer sent.Close()
	want, got := *static.Primary().Options(), *sent.Primary().Options()
	if got.Addr != "sentinel:m" || got.Dialer == nil {
		t.Fatalf("Addr %q, Dialer set %v; want the placeholder and a dialer", got.Addr, got.Dialer != nil)
	}
	want.Addr, want.NodeAddress, want.Dialer = "", "", nil
	got.Addr, got.NodeAddress, got.Dialer = "", "", nil
	for f := range reflect.TypeFor[redis.Options]().Fields() {
		if !f.IsExported() {
			continue
		}
		w, g := reflect.ValueOf(want).FieldByIndex(f.Index), reflect.ValueOf(got).FieldByIndex(f.Index)
		if w.Kind() == reflect.Func {
			if w.Pointer() != g.Pointer() {
				t.Errorf("%s differs from a static shard's", f.Name)
			}
			continue
		}
		if !reflect.DeepEqual(w.Interface(), g.Interface()) {
			t.Errorf("%s = %v, a static shard's %v", f.Name, g.Interface(), w.Interface())
		}
	}
}

// A Sentinel shard reaches the sentinels, and through them its primary,
// with the template's Dialer.
func TestSentinelShardUsesTemplateDialer(t *testing.T) {
	var dialed atomic.Bool
	tmpl := &redis.Options{
		Dialer: func(ctx context.Context, network, addr string) (_ net.Conn, err error) {
			dialed.Store(true)
			return nil, context.Canceled
		},
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
	}
	s, err := New(Options{Name: "a", Sentinel: &failover.Options{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}, Client: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Ping(context.Background())
	if !dialed.Load() {
		t.Fatal("the template's Dialer was not used")
	}
}
