package replica

import (
	"testing"
	"time"
)

func TestLagTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var l lagTracker
	for i, off := range []int64{100, 200, 300, 400} {
		l.record(t0.Add(time.Duration(i)*time.Second), off)
	}
	now := t0.Add(3 * time.Second)
	tests := []struct {
		name   string
		offset int64
		want   time.Duration
	}{
		{"caught up", 400, 0},
		{"ahead of the last sample", 450, 0},
		{"missing the last sample", 350, 0},
		{"missing two samples", 250, time.Second},
		{"missing three samples", 100, 2 * time.Second},
		{"older than every sample", 50, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.behind(now, tt.offset); got != tt.want {
				t.Fatalf("behind(%d) = %v, want %v", tt.offset, got, tt.want)
			}
		})
	}
	l.trim(now, 1500*time.Millisecond)
	if len(l.samples) != 2 || l.samples[0].offset != 300 {
		t.Fatalf("trim kept %v, want the samples at 300 and 400", l.samples)
	}
	l.trim(now.Add(time.Hour), time.Second)
	if len(l.samples) != 1 {
		t.Fatalf("trim must keep the newest sample, kept %v", l.samples)
	}
	if got := (&lagTracker{}).behind(now, 0); got != 0 {
		t.Fatalf("no samples: behind = %v, want 0", got)
	}
}
