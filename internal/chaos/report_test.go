package chaos

import (
	"strings"
	"testing"
	"time"
)

// Each backend's rows go under their own header, in the order given, and
// a row has as many cells as its header.
func TestWriteTables(t *testing.T) {
	sentinel := &Report{Env: "process", Backend: SentinelBackend, Scenario: "kill primary", Fault: KillPrimary, DegradedReads: 7}
	paused := &Report{Env: "process", Backend: RedisClusterBackend, Scenario: "pause primary", Fault: PausePrimary, OldPrimaryRejoined: true, SlowestOtherShards: 900 * time.Millisecond}
	killed := &Report{Env: "process", Backend: RedisClusterBackend, Scenario: "kill primary", Fault: KillPrimary}
	var b strings.Builder
	WriteTables(&b, []*Report{paused, sentinel, killed})
	tables := strings.Split(b.String(), "\n\n")
	if len(tables) != 2 {
		t.Fatalf("%d tables, want 2:\n%s", len(tables), b.String())
	}
	for i, tc := range []struct {
		header string
		last   []string // the last cell of each row
	}{
		{RedisClusterTableHeader, []string{"yes", "–"}},
		{TableHeader, []string{"7"}},
	} {
		lines := strings.Split(strings.TrimSpace(tables[i]), "\n")
		if got := strings.Join(lines[:2], "\n"); got != tc.header {
			t.Errorf("table %d header = %q, want %q", i, got, tc.header)
		}
		rows := lines[2:]
		if len(rows) != len(tc.last) {
			t.Fatalf("table %d: %d rows, want %d", i, len(rows), len(tc.last))
		}
		for j, row := range rows {
			if n, want := strings.Count(row, "|"), strings.Count(lines[0], "|"); n != want {
				t.Errorf("table %d row %d has %d bars, header %d: %s", i, j, n, want, row)
			}
			cells := strings.Split(strings.Trim(row, "| "), " | ")
			if last := cells[len(cells)-1]; last != tc.last[j] {
				t.Errorf("table %d row %d last cell = %q, want %q", i, j, last, tc.last[j])
			}
		}
	}
	if !strings.Contains(tables[0], "| 900 ms |") {
		t.Errorf("no slowest request on other masters in %s", tables[0])
	}
}
