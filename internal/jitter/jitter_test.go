package jitter

import (
	"testing"
	"time"
)

func TestAround(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 10, time.Second} {
		for range 1000 {
			if got := Around(d); got < d-d/10 || got > d+d/10 {
				t.Fatalf("Around(%v) = %v", d, got)
			}
		}
	}
}
