package ring

import (
	"fmt"
	"math"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// hasher adapts xxhash to consistent.Hasher.
type hasher struct{}

func (hasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// member is a shard's name on the ring.
type member string

func (m member) String() string { return string(m) }

// ringMember is the ring member of the shard named name. consistent places a
// member's points at hash(String() + decimal index), so bare names that end
// in digits collide ("s1" + "10" is "s11" + "0") and the later member takes
// the earlier one's points: with shards s0…s999 that skews balance and
// doubles the keys moved by a change (docs/benchmarks.md). A "/" after the
// name makes every point key decode to one name.
func ringMember(name string) member { return member(name + "/") }

// Table builds a ring over names and returns, for every partition,
// the index in names of the shard that owns it. The ring library panics on
// configurations it cannot satisfy; those are rejected here first, and any
// panic left is turned into an error.
func Table(names []string, opt Config) (owners []int32, err error) {
	if err := opt.Validate(len(names)); err != nil {
		return nil, err
	}
	members := make([]consistent.Member, len(names))
	index := make(map[string]int32, len(names))
	for i, n := range names {
		members[i] = ringMember(n)
		index[members[i].String()] = int32(i)
	}
	defer func() {
		if r := recover(); r != nil {
			owners, err = nil, fmt.Errorf("%w: %v", ErrUnsatisfiable, r)
		}
	}()
	ring := consistent.New(members, consistent.Config{
		Hasher:            hasher{},
		PartitionCount:    opt.PartitionCount,
		ReplicationFactor: opt.ReplicationFactor,
		Load:              opt.Load,
	})
	owners = make([]int32, opt.PartitionCount)
	for p := range owners {
		owners[p] = index[ring.GetPartitionOwner(p).String()]
	}
	return owners, nil
}

// Validate rejects what consistent.New would panic on: it gives every member
// room for ceil(floor(partitions/members) × load) partitions, which must add
// up to at least the partition count.
func (o Config) Validate(members int) error {
	switch {
	case members == 0:
		return fmt.Errorf("%w: no shards", ErrUnsatisfiable)
	case o.Load < 1:
		return fmt.Errorf("%w: load %.2f < 1", ErrUnsatisfiable, o.Load)
	case o.ReplicationFactor < 1:
		return fmt.Errorf("%w: replication factor %d < 1", ErrUnsatisfiable, o.ReplicationFactor)
	case o.PartitionCount < members:
		return fmt.Errorf("%w: %d partitions for %d shards", ErrUnsatisfiable, o.PartitionCount, members)
	}
	room := math.Ceil(float64(o.PartitionCount/members) * o.Load)
	if int(room)*members < o.PartitionCount {
		return fmt.Errorf("%w: %d partitions do not fit %d shards at load %.2f", ErrUnsatisfiable, o.PartitionCount, members, o.Load)
	}
	return nil
}

// Owner returns the index of the shard that owns key in a table made by
// Table.
func Owner(table []int32, key string) int32 {
	return table[xxhash.Sum64String(key)%uint64(len(table))]
}
