package replica

import (
	"context"
	"fmt"
)

// Policy says which node of a shard serves reads.
type Policy int

const (
	// PrimaryOnly reads from the primary only: always fresh, no read load
	// taken off the primary. The default.
	PrimaryOnly Policy = iota
	// ReplicaPreferred reads round-robin from the healthy replicas, and
	// from the primary when none is healthy.
	ReplicaPreferred
	// LowestLatency reads from whichever of the primary and the healthy
	// replicas answered the last health checks fastest (a moving average).
	LowestLatency
)

var policyNames = [...]string{PrimaryOnly: "primary-only", ReplicaPreferred: "replica-preferred", LowestLatency: "lowest-latency"}

// String returns the policy's name as ParsePolicy accepts it.
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// ParsePolicy returns the policy named s ("primary-only",
// "replica-preferred" or "lowest-latency").
func ParsePolicy(s string) (Policy, error) {
	for p, name := range policyNames {
		if s == name {
			return Policy(p), nil
		}
	}
	return 0, fmt.Errorf("shardsession: unknown read policy %q (want primary-only, replica-preferred or lowest-latency)", s)
}

type policyKey struct{}

// WithPolicy returns a context whose reads use p instead of the configured
// policy, for example PrimaryOnly for a request that must see writes made by
// other clients a moment ago.
func WithPolicy(ctx context.Context, p Policy) context.Context {
	return context.WithValue(ctx, policyKey{}, p)
}

// PolicyFrom returns the policy set on ctx by WithPolicy, if any.
func PolicyFrom(ctx context.Context) (Policy, bool) {
	p, ok := ctx.Value(policyKey{}).(Policy)
	return p, ok
}
