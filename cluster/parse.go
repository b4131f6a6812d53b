package cluster

import (
	"fmt"
	"strings"

	"github.com/shardsession/shardsession/shard"
)

// ParseShards parses a topology written as text, the form the CLI's
// --shards flag and the SHARDSESSION_SHARDS variable take:
//
//	s0=10.0.0.1:6379,s1=10.0.0.2:6379+10.0.0.5:6379
//
// Shards are separated by commas; each is name=primary, optionally followed
// by +replica addresses. Spaces around the parts are ignored. The result
// fills Options.Shards; New validates it further (unique names, ring size).
func ParseShards(s string) ([]shard.Options, error) {
	var out []shard.Options
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, addrs, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		nodes := strings.Split(addrs, "+")
		for i := range nodes {
			nodes[i] = strings.TrimSpace(nodes[i])
		}
		if !ok || name == "" || nodes[0] == "" {
			return nil, fmt.Errorf("%w: shard %q: want name=host:port[+replica...]", ErrBadOptions, part)
		}
		out = append(out, shard.Options{Name: name, Addr: nodes[0], Replicas: nodes[1:]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no shards in %q", ErrBadOptions, s)
	}
	return out, nil
}
