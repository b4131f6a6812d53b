package scripts

import (
	"errors"
	"testing"
	"time"

	"github.com/shardsession/shardsession/store"
)

func TestSaveArgs(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name string
		w    store.Write
		want []any // without the write ID at index 3
	}{
		{"create ignores IfVersion", store.Write{Mode: store.Create, ExpireAt: at, IfVersion: 7, Set: map[string][]byte{"a": []byte("1")}}, []any{"c", at.UnixMilli(), int64(0), int64(0), 0, "a", []byte("1")}},
		{"update with del", store.Write{Mode: store.Update, ExpireAt: at, IfVersion: 3, Del: []string{"x", "y"}}, []any{"u", at.UnixMilli(), int64(3), int64(0), 2, "x", "y"}},
		{"touch", store.Write{Mode: store.Touch, ExpireAt: at}, []any{"t", at.UnixMilli(), int64(0), int64(0), 0}},
		{"with a deadline", store.Write{Mode: store.Touch, ExpireAt: at, NotAfter: at.Add(time.Second)}, []any{"t", at.UnixMilli(), int64(0), at.UnixMilli() + 1000, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, err := SaveArgs(tt.w)
			if err != nil {
				t.Fatal(err)
			}
			if id, ok := args[3].(string); !ok || id == "" {
				t.Fatalf("write ID = %v", args[3])
			}
			got := append(append([]any{}, args[:3]...), args[4:]...)
			if len(got) != len(tt.want) {
				t.Fatalf("args = %v, want %v", got, tt.want)
			}
			for i := range got {
				if b, ok := got[i].([]byte); ok {
					if string(b) != string(tt.want[i].([]byte)) {
						t.Fatalf("arg %d = %q, want %q", i, b, tt.want[i])
					}
				} else if got[i] != tt.want[i] {
					t.Fatalf("arg %d = %v (%T), want %v (%T)", i, got[i], got[i], tt.want[i], tt.want[i])
				}
			}
		})
	}
	if _, err := SaveArgs(store.Write{Mode: 42}); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if args, err := SaveArgs(store.Write{Mode: store.Update, ID: "k3x9"}); err != nil || args[3] != "k3x9" {
		t.Fatalf("the caller's write ID: %v, %v", args, err)
	}
	for _, id := range []string{"K3", "a-b", string(make([]byte, 65))} {
		if _, err := SaveArgs(store.Write{Mode: store.Update, ID: id}); err == nil {
			t.Fatalf("write ID %q accepted", id)
		}
	}
}

func TestSaveReply(t *testing.T) {
	tests := []struct {
		reply   int64
		version int64
		err     error
	}{
		{5, 5, nil},
		{0, 0, nil},
		{-1, 0, store.ErrNotFound},
		{-2, 0, store.ErrExists},
		{-3, 0, store.ErrConflict},
		{-4, 0, store.ErrUnavailable},
	}
	for _, tt := range tests {
		v, err := SaveReply(tt.reply)
		if v != tt.version || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("SaveReply(%d) = %d, %v; want %d, %v", tt.reply, v, err, tt.version, tt.err)
		}
	}
}
