package store

import "strconv"

// VersionField is the record field that holds its version, bumped by every
// Create and Update (not by a Touch). Versions only grow while a record
// lives; a client that remembers the version of its last write can ask for a
// read at least that new (LoadOptions.MinVersion).
const VersionField = "_v"

// WriteField is the record field that holds the ID of the last write
// applied, so that a write resent after a lost reply is recognised and not
// applied twice.
const WriteField = "_w"

// Version parses the version field of loaded fields; 0 if absent.
func Version(fields map[string]string) int64 {
	v, err := strconv.ParseInt(fields[VersionField], 10, 64)
	if err != nil {
		return 0
	}
	return v
}
