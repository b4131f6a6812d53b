package ring

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/buraksezer/consistent"
)

func names(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("s%d", i)
	}
	return s
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		shards int
		opt    Config
		ok     bool
	}{
		{"defaults, 3 shards", 3, Config{}, true},
		{"defaults, 40 shards", 40, Config{}, true},
		{"271 partitions, 271 shards", 271, Config{PartitionCount: 271, ReplicationFactor: 1}, true},
		{"more shards than partitions", 300, Config{PartitionCount: 271}, false},
		{"no shards", 0, Config{}, false},
		{"load below one", 3, Config{Load: 0.5}, false},
		{"no room at load 1", 7, Config{PartitionCount: 13, Load: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Fill(tt.shards)
			_, err := Table(names(tt.shards), tt.opt)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrUnsatisfiable) {
				t.Fatalf("err = %v, want ErrUnsatisfiable", err)
			}
		})
	}
}

// The flattened table routes every key exactly as the ring library does.
func TestOwnersMatchLocateKey(t *testing.T) {
	opt := Config{}
	opt.Fill(5)
	shards := names(5)
	owners, err := Table(shards, opt)
	if err != nil {
		t.Fatal(err)
	}
	members := make([]consistent.Member, len(shards))
	for i, n := range shards {
		members[i] = ringMember(n)
	}
	ring := consistent.New(members, consistent.Config{Hasher: hasher{}, PartitionCount: opt.PartitionCount, ReplicationFactor: opt.ReplicationFactor, Load: opt.Load})
	for i := range 10000 {
		key := fmt.Sprintf("session-%d", i)
		want := strings.TrimSuffix(ring.LocateKey([]byte(key)).String(), "/")
		got := shards[Owner(owners, key)]
		if got != want {
			t.Fatalf("key %s: table says %s, ring says %s", key, got, want)
		}
	}
}
