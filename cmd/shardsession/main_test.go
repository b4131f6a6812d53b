package main

import (
	"strings"
	"testing"
)

// Asking for help is a success: "help", -h, and a command's -h exit 0;
// an unknown command or flag is a usage error.
func TestHelpExitsZero(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"help"}, 0},
		{"-h", []string{"-h"}, 0},
		{"--help", []string{"--help"}, 0},
		{"check -h", []string{"check", "-h"}, 0},
		{"reshard -h", []string{"reshard", "-h"}, 0},
		{"bench -h", []string{"bench", "-h"}, 0},
		{"no command", nil, 2},
		{"unknown command", []string{"nonsense"}, 2},
		{"check unknown flag", []string{"check", "--nonsense"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if code := run(tt.args, &out, &errOut); code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out.String(), errOut.String())
			}
		})
	}
}
