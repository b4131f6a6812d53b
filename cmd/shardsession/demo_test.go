package main

import "testing"

// The README's promise: `shardsession demo --smoke` exits 0 on a machine
// with redis-server installed.
func TestDemoSmoke(t *testing.T) {
	if code := runDemo([]string{"--smoke"}); code != 0 {
		t.Fatalf("demo --smoke exited %d", code)
	}
}
