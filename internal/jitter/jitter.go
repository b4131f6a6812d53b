// Package jitter spreads the background intervals of a fleet's nodes, so
// that thousands of nodes started together do not check, poll or ping
// their servers in step.
package jitter

import (
	"math/rand/v2"
	"time"
)

// Around returns d lengthened or shortened by up to a tenth, at random.
func Around(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}
