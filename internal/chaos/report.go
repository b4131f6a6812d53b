package chaos

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// TableHeader is the header of the markdown table of the Sentinel rows
// WriteRow adds to.
const TableHeader = `| env | scenario | durability | down-after | requests | errors | errors on other shards | failed reads | READONLY/EOF seen | write outage p50 / p99 | recovery | acked writes lost (WAIT-confirmed lost) | logouts / came back | degraded reads |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`

// RedisClusterTableHeader is the header of the Redis Cluster rows: a shard
// is a master, down-after is cluster-node-timeout, the slowest request to
// the other masters is shown (the whole cluster stops while a master's
// slots have none), no replica is read (no degraded reads) but whether
// the old master rejoined is shown.
const RedisClusterTableHeader = `| env | scenario | durability | cluster-node-timeout | requests | errors | errors on other masters | slowest request on other masters | failed reads | READONLY/EOF seen | write outage p50 / p99 | recovery | acked writes lost (WAIT-confirmed lost) | logouts / came back | old master rejoined |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`

// Header returns the header of the table r's rows belong to.
func (r *Report) Header() string {
	if r.Backend == RedisClusterBackend {
		return RedisClusterTableHeader
	}
	return TableHeader
}

// WriteRow writes r as one row of the markdown table headed by r.Header().
func (r *Report) WriteRow(w io.Writer) {
	other := ""
	if r.Backend == RedisClusterBackend {
		other = " " + ms(r.SlowestOtherShards) + " |"
	}
	fmt.Fprintf(w, "| %s | %s | %s | %d ms | %d | %d | %d |%s %d | %d | %s / %s | %s | %d (%d) of %d sessions | %d / %d | %s |\n",
		r.Env, r.Scenario, r.Mode, r.DownAfter.Milliseconds(), r.Requests, r.Errors, r.ErrorsOtherShards, other,
		r.FailedReads, r.ReadOnlyEOF, ms(r.OutageP50), ms(r.OutageP99), ms(r.Recovery),
		r.AckedLost, r.ConfirmedLost, r.Sessions, r.Logouts, r.Resurrected, r.lastCell())
}

// lastCell is the table's last column: degraded reads for Sentinel rows,
// whether the old master rejoined as a replica for Redis Cluster rows.
func (r *Report) lastCell() string {
	switch {
	case r.Backend != RedisClusterBackend:
		return fmt.Sprint(r.DegradedReads)
	case r.Fault != PausePrimary && r.Fault != PartitionPrimary:
		return "–"
	case r.OldPrimaryRejoined:
		return "yes"
	}
	return "no"
}

// WriteTables writes reports as markdown tables, one per backend in the
// order they first appear, each row in the order given.
func WriteTables(w io.Writer, reports []*Report) {
	var headers []string
	rows := map[string]*strings.Builder{}
	for _, r := range reports {
		h := r.Header()
		if rows[h] == nil {
			headers = append(headers, h)
			rows[h] = &strings.Builder{}
		}
		r.WriteRow(rows[h])
	}
	for i, h := range headers {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s\n%s", h, rows[h])
	}
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
