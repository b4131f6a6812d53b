package redistest

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A TLS topology listens for TLS only: a plain client is refused, one
// with the CA and a client certificate is served, the replicas replicate
// and the sentinels meet over TLS.
func TestTopologyTLSOnly(t *testing.T) {
	ctx := t.Context()
	certs, err := NewTLS(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	top := NewTopology(t, TopologyOptions{Shards: 1, Replicas: 1, Sentinels: 1, TLS: certs})
	sh := top.Shards[0]
	for _, tc := range []struct {
		name   string
		opt    *redis.Options
		wantOK bool
	}{
		{"plain", &redis.Options{Addr: sh.Primary.Addr(), DisableIdentity: true, MaxRetries: -1, ReadTimeout: 500 * time.Millisecond}, false},
		{"tls", &redis.Options{Addr: sh.Primary.Addr(), DisableIdentity: true, TLSConfig: certs.ClientConfig()}, true},
		{"tls without a client certificate", &redis.Options{Addr: sh.Primary.Addr(), DisableIdentity: true, MaxRetries: -1,
			TLSConfig: func() *tls.Config { c := certs.ClientConfig(); c.Certificates = nil; return c }()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := redis.NewClient(tc.opt)
			defer c.Close()
			if err := c.Ping(ctx).Err(); (err == nil) != tc.wantOK {
				t.Fatalf("PING = %v, want ok %v", err, tc.wantOK)
			}
		})
	}
	addr, err := top.Sentinels[0].MasterAddr(ctx, sh.Name)
	if err != nil || addr != sh.Primary.Addr() {
		t.Fatalf("sentinel names %q (%v), want %s", addr, err, sh.Primary.Addr())
	}
}
