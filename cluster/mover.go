package cluster

import "fmt"

// Mover is how a topology change moves keys from their previous owner to
// their new one. The coordinator of a change picks it before the change
// starts (probeMoves) and records it in the topology record, so that every
// node of a fleet moves keys, and checks for moves in progress, the same
// way for the whole change: the two movers do not interoperate.
type Mover int

const (
	// MoverMigrate moves keys with MIGRATE: the source server hands a key
	// over and deletes it atomically (moving.go). The zero value, and what
	// a record without a mover (written before movers could be chosen)
	// means.
	MoverMigrate Mover = iota
	// MoverCopy moves keys with scripts only, for servers that refuse
	// MIGRATE, as managed Redis services do: mark on the source, copy if
	// absent, delete under the mark (copymove.go).
	MoverCopy
)

func (m Mover) String() string {
	switch m {
	case MoverMigrate:
		return "migrate"
	case MoverCopy:
		return "copy"
	}
	return fmt.Sprintf("Mover(%d)", int(m))
}

// MarshalText writes the mover's name, as the topology record stores it.
func (m Mover) MarshalText() ([]byte, error) {
	if m != MoverMigrate && m != MoverCopy {
		return nil, fmt.Errorf("%w: unknown mover %d", ErrBadOptions, int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads a mover's name. An unknown name is an error, so that
// a node never moves keys in a way the rest of its fleet does not expect.
func (m *Mover) UnmarshalText(b []byte) error {
	switch string(b) {
	case "migrate", "":
		*m = MoverMigrate
	case "copy":
		*m = MoverCopy
	default:
		return fmt.Errorf("%w: unknown mover %q", ErrBadOptions, b)
	}
	return nil
}
