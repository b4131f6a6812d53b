package store

import "strconv"

// VersionField is the record field that holds its version, bumped by every
// Create and Update (not by a Touch). Versions only grow while a record
// lives; a client that remembers the version of its last write can ask for a
// read at least that new (LoadOptions.MinVersion).
const VersionField = "_v"

// WriteField is the record field that holds the ID of the last Create or
// Update applied (Write.ID), so that a write resent after a lost reply is
// recognised and not applied twice, and so that two records with the same
// version on two branches of history (see AtLeast) are told apart.
const WriteField = "_w"

// Version parses the version field of loaded fields; 0 if absent.
func Version(fields map[string]string) int64 {
	v, err := strconv.ParseInt(fields[VersionField], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// AtLeast reports whether the record held in fields is at least as new as
// the one a client last saw at version minVersion with write ID minWrite:
// its version is higher, or it is the same version and, when minWrite is
// set, the same write. A record at minVersion with another write ID is the
// same number on another branch of history, never "at least as new".
// minVersion <= 0 asks for nothing: AtLeast is then true.
func AtLeast(fields map[string]string, minVersion int64, minWrite string) bool {
	if minVersion <= 0 {
		return true
	}
	v := Version(fields)
	return v > minVersion || v == minVersion && (minWrite == "" || fields[WriteField] == minWrite)
}
