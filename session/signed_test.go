package session

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/store"
)

func TestClientToken(t *testing.T) {
	k1, k2, k3 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	signer := &Manager{SigningKeys: [][]byte{k1, k2}}
	old := &Manager{SigningKeys: [][]byte{k2}}
	tok := newToken()
	signed := signer.clientToken(tok, 7, "")
	parts := strings.Split(signed, ".")
	withWrite := signer.clientToken(tok, 7, "k3x9")
	wparts := strings.Split(withWrite, ".")
	tests := []struct {
		name    string
		m       *Manager
		in      string
		version int64 // want; -2: rejected
		write   string
	}{
		{"signed by the first key", signer, signed, 7, ""},
		{"with its write", signer, withWrite, 7, "k3x9"},
		{"signed by a rotated-out key still listed", signer, old.clientToken(tok, 3, ""), 3, ""},
		{"another write", signer, wparts[0] + ".7-k3x8." + wparts[2], -2, ""},
		{"write stripped", signer, wparts[0] + ".7." + wparts[2], -2, ""},
		{"write added", signer, parts[0] + ".7-k3x9." + parts[2], -2, ""},
		{"empty write", signer, parts[0] + ".7-." + parts[2], -2, ""},
		{"write not base36", signer, parts[0] + ".7-K." + parts[2], -2, ""},
		{"bare token with keys", signer, tok, -2, ""},
		{"bare token with keys, accepted", &Manager{SigningKeys: [][]byte{k1}, AcceptUnsignedTokens: true}, tok, unknownVersion, ""},
		{"bare token without keys", &Manager{}, tok, unknownVersion, ""},
		{"signed token without keys", &Manager{}, signed, -2, ""},
		{"signed by an unknown key", signer, (&Manager{SigningKeys: [][]byte{k3}}).clientToken(tok, 7, ""), -2, ""},
		{"raised version", signer, parts[0] + ".8." + parts[2], -2, ""},
		{"version without a MAC", signer, parts[0] + ".7", -2, ""},
		{"MAC of another token", signer, newToken() + ".7." + parts[2], -2, ""},
		{"signed plus sign", signer, parts[0] + ".+7." + parts[2], -2, ""},
		{"empty version", signer, parts[0] + ".." + parts[2], -2, ""},
		{"huge version", signer, parts[0] + "." + strings.Repeat("9", 30) + "." + parts[2], -2, ""},
		{"extra part", signer, signed + ".x", -2, ""},
		{"malformed token", signer, "abc.7." + parts[2], -2, ""},
		{"empty", signer, "", -2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotTok, v, w, ok := tt.m.parseClientToken(tt.in)
			if tt.version == -2 {
				if ok {
					t.Fatalf("accepted %q as %q version %d", tt.in, gotTok, v)
				}
				return
			}
			if !ok || gotTok != tok || v != tt.version || w != tt.write {
				t.Fatalf("parse = %q, %d, %q, %v; want the token at version %d write %q", gotTok, v, w, ok, tt.version, tt.write)
			}
		})
	}
	if got := (&Manager{}).clientToken(tok, 7, "w"); got != tok {
		t.Fatalf("without keys the client token is the bare token, got %q", got)
	}
	if got := signer.clientToken(tok, unknownVersion, "w"); got != tok {
		t.Fatalf("an unknown version is not signed, got %q", got)
	}
}

func TestShortKeyRejected(t *testing.T) {
	m := New(nil)
	m.SigningKeys = [][]byte{[]byte("too short")}
	if _, err := m.Load(context.Background(), newToken()); !errors.Is(err, ErrBadKey) {
		t.Fatalf("Load with a short key = %v, want ErrBadKey", err)
	}
}

func TestLoadOptions(t *testing.T) {
	if o := loadOptions(unknownVersion, "", nil); !o.Primary {
		t.Fatalf("a bare token must read the primary: %+v", o)
	}
	var info store.ReadInfo
	if o := loadOptions(5, "w", &info); o.Primary || o.MinVersion != 5 || o.MinWrite != "w" || o.Info != &info {
		t.Fatalf("loadOptions(5) = %+v", o)
	}
}
