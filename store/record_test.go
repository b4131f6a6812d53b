package store

import "testing"

func TestAtLeast(t *testing.T) {
	rec := map[string]string{VersionField: "5", WriteField: "a"}
	tests := []struct {
		name       string
		fields     map[string]string
		minVersion int64
		minWrite   string
		want       bool
	}{
		{"nothing asked", nil, 0, "", true},
		{"same version, same write", rec, 5, "a", true},
		{"same version, write not known", rec, 5, "", true},
		{"same version, another write", rec, 5, "b", false},
		{"newer", rec, 4, "x", true},
		{"older", rec, 6, "a", false},
		{"missing", nil, 5, "a", false},
		{"no write stored", map[string]string{VersionField: "5"}, 5, "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AtLeast(tt.fields, tt.minVersion, tt.minWrite); got != tt.want {
				t.Fatalf("AtLeast(%v, %d, %q) = %v, want %v", tt.fields, tt.minVersion, tt.minWrite, got, tt.want)
			}
		})
	}
}
