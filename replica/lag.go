package replica

import "time"

// sample is the primary's replication offset at one time.
type sample struct {
	at     time.Time
	offset int64
}

// lagTracker turns replication offsets into a time lag. It remembers the
// primary's offset at every check; a replica that has applied offset R is
// missing everything the primary wrote after the last sample whose offset
// is ≤ R, so it is at least as old as the sample after that one. Not safe
// for concurrent use: only the check goroutine touches it (the replicas'
// concurrent checks only read it, before the round's primary sample is
// recorded).
type lagTracker struct {
	samples []sample // oldest first
}

// record adds the primary's offset at time at.
func (l *lagTracker) record(at time.Time, offset int64) {
	l.samples = append(l.samples, sample{at, offset})
}

// trim forgets samples older than keep, always keeping the newest.
func (l *lagTracker) trim(now time.Time, keep time.Duration) {
	i := 0
	for i < len(l.samples)-1 && now.Sub(l.samples[i].at) > keep {
		i++
	}
	l.samples = l.samples[i:]
}

// behind returns how far behind a replica that has applied offset is: the
// age of the oldest sample whose offset it has not reached, or 0 when it has
// reached the newest. A replica older than every remembered sample is at
// least as old as the oldest one.
func (l *lagTracker) behind(now time.Time, offset int64) time.Duration {
	for i := len(l.samples) - 1; i >= 0; i-- {
		if l.samples[i].offset <= offset {
			if i == len(l.samples)-1 {
				return 0
			}
			return now.Sub(l.samples[i+1].at)
		}
	}
	if len(l.samples) == 0 {
		return 0
	}
	return now.Sub(l.samples[0].at)
}
