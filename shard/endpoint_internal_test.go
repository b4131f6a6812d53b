package shard

import "testing"

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		id   identity
		role string
		ok   bool
	}{
		{"primary", "# Server\r\nredis_version:7.0.15\r\nrun_id:abc\r\n\r\n# Replication\r\nrole:master\r\nmaster_replid:r1\r\nmaster_replid2:0000\r\n",
			identity{runID: "abc", replID: "r1"}, "master", true},
		{"replica", "run_id:def\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_replid:r1\r\n", identity{runID: "def", replID: "r1"}, "slave", true},
		{"no run_id (a proxy)", "# Server\r\nredis_version:7.0.15\r\nrole:master\r\n", identity{}, "master", false},
		{"no role", "run_id:abc\r\n", identity{runID: "abc"}, "", false},
		{"empty", "", identity{}, "", false},
		{"garbage", "::::\r\nno colon\r\n:\r\n", identity{}, "", false},
		{"value with colons", "run_id:a:b\nrole:master\n", identity{runID: "a:b"}, "master", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, role, ok := parseIdentity(tt.raw)
			if id != tt.id || role != tt.role || ok != tt.ok {
				t.Errorf("parseIdentity = %+v, %q, %v; want %+v, %q, %v", id, role, ok, tt.id, tt.role, tt.ok)
			}
		})
	}
}
