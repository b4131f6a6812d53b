package session_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

// Acceptance: KEYS and SCAN of every shard, and every value stored, show no
// raw session token: Redis holds only hashes of tokens.
func TestRedisHoldsNoRawToken(t *testing.T) {
	m, _, top := newManager(t)
	m.PublishEvents = true
	srv := httptest.NewServer(app(m))
	defer srv.Close()

	var tokens []string
	for i := range 30 {
		b := newBrowser(t, srv)
		b.must("/put?k=user&v=u"+string(rune('a'+i%26)), "")
		b.must("/login?user=ada", "")
		tokens = append(tokens, b.cookie(srv))
		b.must("/renew", "") // the renewed token too
		tokens = append(tokens, b.cookie(srv))
	}
	ctx := context.Background()
	for _, s := range top.Shards {
		cl := s.Primary.Client()
		keys, err := cl.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		var scanned []string
		iter := cl.Scan(ctx, 0, "*", 100).Iterator()
		for iter.Next(ctx) {
			scanned = append(scanned, iter.Val())
		}
		if len(scanned) != len(keys) || len(keys) == 0 {
			t.Fatalf("shard %s: KEYS %d, SCAN %d keys", s.Name, len(keys), len(scanned))
		}
		var dump strings.Builder
		for _, k := range keys {
			dump.WriteString(k + "\n")
			switch typ := cl.Type(ctx, k).Val(); typ {
			case "hash":
				for f, v := range cl.HGetAll(ctx, k).Val() {
					dump.WriteString(f + "=" + v + "\n")
				}
			case "zset":
				dump.WriteString(strings.Join(cl.ZRange(ctx, k, 0, -1).Val(), "\n"))
			case "string":
				dump.WriteString(cl.Get(ctx, k).Val())
			default:
				t.Errorf("shard %s: unexpected %s key %s", s.Name, typ, k)
			}
		}
		cl.Close()
		for _, tok := range tokens {
			if tok == "" {
				t.Fatal("no cookie")
			}
			if strings.Contains(dump.String(), tok) {
				t.Fatalf("shard %s stores a raw session token", s.Name)
			}
		}
	}
}
