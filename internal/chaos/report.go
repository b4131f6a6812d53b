package chaos

import (
	"fmt"
	"io"
	"time"
)

// TableHeader is the header of the markdown table WriteRow adds to.
const TableHeader = `| env | scenario | durability | down-after | requests | errors | errors on other shards | failed reads | READONLY/EOF seen | write outage p50 / p99 | recovery | acked writes lost (WAIT-confirmed lost) | logouts / came back | degraded reads |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`

// WriteRow writes r as one row of the markdown table headed by TableHeader.
func (r *Report) WriteRow(w io.Writer) {
	fmt.Fprintf(w, "| %s | %s | %s | %d ms | %d | %d | %d | %d | %d | %s / %s | %s | %d (%d) of %d sessions | %d / %d | %d |\n",
		r.Env, r.Scenario, r.Mode, r.DownAfter.Milliseconds(), r.Requests, r.Errors, r.ErrorsOtherShards,
		r.FailedReads, r.ReadOnlyEOF, ms(r.OutageP50), ms(r.OutageP99), ms(r.Recovery),
		r.AckedLost, r.ConfirmedLost, r.Sessions, r.Logouts, r.Resurrected, r.DegradedReads)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
