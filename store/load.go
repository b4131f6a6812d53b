package store

// LoadOptions tell Load what the caller already knows about the record, so
// that a read served by a replica is never older than the caller's own last
// write (read-your-writes). The zero value asks for no guarantee: any
// healthy node the read policy picks may answer.
//
// A Store that reads only from primaries satisfies every option by
// construction and may ignore them (bench.RingStore does).
type LoadOptions struct {
	// MinVersion is the version of the caller's last write (or last read) of
	// the record, as Save or an earlier Load returned it. When > 0, a replica
	// answer with a lower version, or a replica that does not have the record
	// at all, is not trusted: the read is retried on the primary. A negative
	// MinVersion means the caller cannot tell: the primary answers, as with
	// Primary.
	MinVersion int64

	// MinWrite is the write ID (WriteField) of the record at MinVersion, as
	// the caller saw it. When set, a record at exactly MinVersion whose
	// write ID differs is not the one the caller saw but a record on
	// another branch of history (a write a deposed primary accepted, or one
	// that reached a replica and was then lost in a failover): a replica's
	// such answer is not trusted and the primary answers. Default "": the
	// version alone is compared.
	MinWrite string

	// Primary asks for a read from the primary whatever the read policy,
	// for a caller that cannot tell which version it last saw (for example a
	// cookie that carries no signed version).
	Primary bool

	// Info, if not nil, is filled in with which node answered.
	Info *ReadInfo
}

// ReadInfo says which node of a shard answered a Load.
type ReadInfo struct {
	// Shard is the name of the shard that owns the record.
	Shard string
	// Node is the address of the node whose answer was returned.
	Node string
	// Replica is true when Node is a replica: the one the read policy
	// picked, or one serving a degraded read while the primary is down.
	Replica bool
	// Retried is true when a replica was asked first and its answer was
	// stale (older than MinVersion, or missing) or it failed, so the
	// primary was asked too.
	Retried bool
}
