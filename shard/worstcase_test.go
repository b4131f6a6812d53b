package shard_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/shard"
)

func TestWorstCase(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client *redis.Options
		want   time.Duration
	}{
		// 2 attempts × (pool 2 s + dial 1 s + handshake 2 s + command 2 s) + 100 ms backoff.
		{"defaults", nil, 14100 * time.Millisecond},
		// go-redis defaults for a template without timeouts: read and write
		// 3 s, dial 5 s, pool 4 s.
		{"zero template", &redis.Options{}, 2*(4+5+12)*time.Second + 100*time.Millisecond},
		{"no retries", &redis.Options{DialTimeout: 100 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, PoolTimeout: 300 * time.Millisecond, MaxRetries: -1},
			300*time.Millisecond + 100*time.Millisecond + 800*time.Millisecond},
		{"three dials", &redis.Options{DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, PoolTimeout: time.Second, MaxRetries: -1, DialerRetries: 3, DialerRetryTimeout: 50 * time.Millisecond},
			time.Second + 3*time.Second + 100*time.Millisecond + 4*time.Second},
		{"no read timeout", &redis.Options{ReadTimeout: -1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shard.WorstCase(tc.client); got != tc.want {
				t.Errorf("WorstCase = %v, want %v", got, tc.want)
			}
		})
	}
}
