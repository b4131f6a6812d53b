package cluster

import (
	"strings"
	"testing"

	"github.com/shardsession/shardsession/store"
)

// Event payloads come from Pub/Sub, which any client of a shard can publish
// to: parsing must never panic and must accept only well-formed events.
func FuzzParseEvent(f *testing.F) {
	id := strings.Repeat("A", 43)
	f.Add("created " + id)
	f.Add("renewed " + id + " " + id)
	f.Add("destroyed " + id)
	f.Add("expired " + id)
	f.Add("renewed " + id)
	f.Add("")
	f.Add("created shardsession:lock:" + id)
	f.Fuzz(func(t *testing.T, payload string) {
		e, ok := ParseEvent(payload)
		if !ok {
			return
		}
		if !validID(e.ID) || (e.Kind == store.Renewed) != (e.OldID != "") {
			t.Fatalf("ParseEvent(%q) = %+v", payload, e)
		}
		switch e.Kind {
		case store.Created, store.Renewed, store.Destroyed:
		default:
			t.Fatalf("ParseEvent(%q) accepted kind %q", payload, e.Kind)
		}
	})
}

// Version never panics and is 0 for anything that is not an integer.
func FuzzVersion(f *testing.F) {
	f.Add("1")
	f.Add("-3")
	f.Add("99999999999999999999")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		_ = store.Version(map[string]string{store.VersionField: v})
	})
}
