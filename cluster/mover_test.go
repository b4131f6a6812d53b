package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// The mover travels to the fleet in the topology record: a record without
// one (written before movers could be chosen) means MIGRATE, and a mover a
// node does not know is an error rather than a guess.
func TestMoverInRecord(t *testing.T) {
	tests := []struct {
		name    string
		mover   Mover
		json    string // what the record holds
		wantErr bool
	}{
		{"migrate", MoverMigrate, "", false},
		{"copy", MoverCopy, `"mover":"copy"`, false},
		{"unknown", Mover(7), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(toRecord(Topology{Epoch: 3, Phase: PhaseMigrate, Mover: tt.mover}))
			if tt.wantErr {
				if !errors.Is(err, ErrBadOptions) {
					t.Fatalf("marshal = %s, %v; want ErrBadOptions", b, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.json != "" && !strings.Contains(string(b), tt.json) || tt.json == "" && strings.Contains(string(b), "mover") {
				t.Fatalf("record %s, want %q in it", b, tt.json)
			}
			var r record
			if err := json.Unmarshal(b, &r); err != nil || r.topology(nil, shard.Options{}).Mover != tt.mover {
				t.Fatalf("read back %+v, %v; want mover %s", r, err, tt.mover)
			}
			if got := tt.mover.String(); got != tt.name {
				t.Fatalf("String = %q, want %q", got, tt.name)
			}
		})
	}
	var r record
	if err := json.Unmarshal([]byte(`{"epoch":1,"phase":2,"mover":"teleport"}`), &r); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("unknown mover in a record: %v, want ErrBadOptions", err)
	}
}

// MIGRATE reaches a shard found through Sentinel at its primary's real
// address, asked from the primary itself: its client's own address is a
// placeholder.
func TestTargetOfSentinelShard(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Sentinels: 1})
	name := top.Shards[0].Name
	sh, err := shard.New(shard.Options{Name: name, Sentinel: &failover.Options{MasterName: name, SentinelAddrs: top.SentinelAddrs()}})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	static, err := shard.New(shard.Options{Name: "static", Addr: top.Shards[0].Primary.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer static.Close()
	for _, s := range []*shard.Shard{sh, static} {
		opt, err := target(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if want := top.Shards[0].Primary.Addr(); opt.Addr != want {
			t.Errorf("%s: MIGRATE target %s, want %s", s.Name(), opt.Addr, want)
		}
	}
}
