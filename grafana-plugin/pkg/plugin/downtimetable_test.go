package plugin

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// ownCollector starts a collector of the test's own (not the shared seeded one), stopped at the
// end of the test: for tests whose records would change what the shared one answers.
func ownCollector(t *testing.T) *testCollector {
	t.Helper()
	if skip, fail := collectorMissing(repoRoot(), os.Getenv(skipIntegrationEnv)); skip != "" {
		t.Skip(skip)
	} else if fail != "" {
		t.Fatal(fail)
	}
	c, err := startCollector(filepath.Join(repoRoot(), "collector", "bin", "rexmon.js"))
	if err != nil {
		t.Fatalf("starting a collector: %v", err)
	}
	t.Cleanup(c.stop)
	return c
}

// tableColumn gives a frame's field by name, failing the test when it is missing.
func tableColumn(t *testing.T, f *data.Frame, name string) *data.Field {
	t.Helper()
	field, _ := f.FieldByName(name)
	if field == nil {
		t.Fatalf("no field %q in %v", name, f.Fields)
	}
	return field
}

func TestDowntimeTable(t *testing.T) {
	c := ownCollector(t)
	now := time.Now().Truncate(time.Second)
	ids := map[string]int64{}
	file := func(name string, body map[string]any) {
		t.Helper()
		var out struct {
			ID int64 `json:"id"`
		}
		if err := c.post("/api/v1/downtimes", body, &out); err != nil {
			t.Fatalf("filing %s: %v", name, err)
		}
		ids[name] = out.ID
	}
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	file("active", map[string]any{"kind": "planned", "match": `{host="a"}`, "start": at(-time.Hour), "end": at(time.Hour), "author": "alice", "reason": "kernel update"})
	file("open", map[string]any{"kind": "unplanned", "match": `{host="b"}`, "start": at(-10 * time.Minute), "end": nil, "author": "bob", "reason": "disk failure"})
	file("soon", map[string]any{"kind": "planned", "match": `{host="c"}`, "start": at(48 * time.Hour), "end": at(50 * time.Hour), "author": "carol", "reason": "move rack"})
	file("later", map[string]any{"kind": "planned", "match": `{host="d"}`, "start": at(20 * 24 * time.Hour), "end": at(21 * 24 * time.Hour), "author": "dave", "reason": "new cooling"})
	file("ended", map[string]any{"kind": "planned", "match": `{host="e"}`, "start": at(-3 * time.Hour), "end": at(-2 * time.Hour), "author": "erin", "reason": "done"})
	file("cancelled", map[string]any{"kind": "planned", "match": `{host="f"}`, "start": at(24 * time.Hour), "end": at(25 * time.Hour), "author": "frank", "reason": "called off"})
	if err := c.do(http.MethodDelete, fmt.Sprintf("/api/v1/downtimes/%d", ids["cancelled"]), editorToken, nil, nil); err != nil {
		t.Fatalf("cancelling: %v", err)
	}
	// Recurring, three hours from now every day: scheduled, shown with its next occurrence.
	next := now.UTC().Truncate(time.Hour).Add(3 * time.Hour)
	file("daily", map[string]any{"kind": "planned", "match": `{host="g"}`, "start": at(-24 * time.Hour), "duration": "30m",
		"recurrence": map[string]any{"rule": fmt.Sprintf("0 %d * * *", next.Hour()), "timezone": "UTC"}, "author": "gina", "reason": "backup"})

	d := newDS(t, c.URL, viewerToken)
	table := func(model map[string]any, from, to time.Time) *data.Frame {
		t.Helper()
		model["format"] = "table"
		frames := mustOK(t, runQuery(t, d, nil, dq(t, QueryTypeDowntimes, model, from, to)))
		if len(frames) != 1 {
			t.Fatalf("%d frames, want one table", len(frames))
		}
		return frames[0]
	}
	rowsByID := func(f *data.Frame) map[int64]int {
		out := map[int64]int{}
		idf := tableColumn(t, f, "id")
		for i := 0; i < f.Rows(); i++ {
			out[idf.At(i).(int64)] = i
		}
		return out
	}

	f := table(map[string]any{"kind": "", "expr": ""}, now.Add(-time.Hour), now)
	wantFields := []string{"id", "kind", "state", "start", "end", "author", "reason", "match"}
	if len(f.Fields) != len(wantFields) {
		t.Fatalf("fields %v, want %v", f.Fields, wantFields)
	}
	for i, name := range wantFields {
		if f.Fields[i].Name != name {
			t.Errorf("field %d is %q, want %q", i, f.Fields[i].Name, name)
		}
	}
	if typ := tableColumn(t, f, "start").Type(); typ != data.FieldTypeTime {
		t.Errorf("start is %s, want time", typ)
	}
	if typ := tableColumn(t, f, "end").Type(); typ != data.FieldTypeNullableTime {
		t.Errorf("end is %s, want nullable time", typ)
	}
	rows := rowsByID(f)
	for _, name := range []string{"active", "open", "soon", "daily"} {
		if _, ok := rows[ids[name]]; !ok {
			t.Errorf("%s downtime #%d missing from %v", name, ids[name], rows)
		}
	}
	for _, name := range []string{"later", "ended", "cancelled"} {
		if _, ok := rows[ids[name]]; ok {
			t.Errorf("%s downtime #%d should not be listed", name, ids[name])
		}
	}
	if f.Rows() != 4 {
		t.Errorf("%d rows, want 4", f.Rows())
	}
	cell := func(name string, id int64) any { return tableColumn(t, f, name).At(rows[id]) }
	if cell("kind", ids["active"]) != "planned" || cell("state", ids["active"]) != "active" || cell("author", ids["active"]) != "alice" ||
		cell("reason", ids["active"]) != "kernel update" || cell("match", ids["active"]) != `{host="a"}` {
		t.Errorf("active row: %v %v %v %v %v", cell("kind", ids["active"]), cell("state", ids["active"]), cell("author", ids["active"]),
			cell("reason", ids["active"]), cell("match", ids["active"]))
	}
	if got := cell("start", ids["active"]).(time.Time); !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("active start %v, want %v", got, now.Add(-time.Hour))
	}
	if got := cell("end", ids["active"]).(*time.Time); got == nil || !got.Equal(now.Add(time.Hour)) {
		t.Errorf("active end %v, want %v", got, now.Add(time.Hour))
	}
	if cell("kind", ids["open"]) != "unplanned" || cell("end", ids["open"]).(*time.Time) != nil {
		t.Errorf("open-ended unplanned: kind %v end %v, want a null end", cell("kind", ids["open"]), cell("end", ids["open"]))
	}
	if cell("state", ids["soon"]) != "scheduled" {
		t.Errorf("soon: state %v", cell("state", ids["soon"]))
	}
	if got := cell("start", ids["daily"]).(time.Time); !got.Equal(next) || cell("state", ids["daily"]) != "scheduled" {
		t.Errorf("daily: start %v state %v, want the next occurrence %v, scheduled", got, cell("state", ids["daily"]), next)
	}
	if got := cell("end", ids["daily"]).(*time.Time); got == nil || !got.Equal(next.Add(30*time.Minute)) {
		t.Errorf("daily end %v, want %v", got, next.Add(30*time.Minute))
	}
	// Rows by start: the earliest first.
	starts := tableColumn(t, f, "start")
	for i := 1; i < f.Rows(); i++ {
		if starts.At(i).(time.Time).Before(starts.At(i - 1).(time.Time)) {
			t.Errorf("row %d starts before row %d", i, i-1)
		}
	}

	// A range ending beyond the 7 days reaches further.
	f = table(map[string]any{}, now, now.Add(30*24*time.Hour))
	if _, ok := rowsByID(f)[ids["later"]]; !ok || f.Rows() != 5 {
		t.Errorf("range to +30 days: %d rows %v, want the one in 20 days too", f.Rows(), rowsByID(f))
	}
	// Kind and matcher filter the table as they filter the regions.
	f = table(map[string]any{"kind": "unplanned"}, now.Add(-time.Hour), now)
	if f.Rows() != 1 || tableColumn(t, f, "id").At(0).(int64) != ids["open"] {
		t.Errorf("kind unplanned: %d rows", f.Rows())
	}
	f = table(map[string]any{"expr": `host=~"(a|c)"`}, now.Add(-time.Hour), now)
	if r := rowsByID(f); f.Rows() != 2 || r[ids["active"]] != 0 || r[ids["soon"]] != 1 {
		t.Errorf("matcher host=~(a|c): %v", r)
	}

	// Without format:"table" the query keeps giving annotation regions.
	frames := mustOK(t, runQuery(t, d, nil, dq(t, QueryTypeDowntimes, map[string]any{}, now.Add(-2*time.Hour), now)))
	if len(frames) != 1 || frames[0].Fields[0].Name != "time" || frames[0].Fields[1].Name != "timeEnd" {
		t.Errorf("annotation shape lost: %v", frames)
	}

	for _, model := range []map[string]any{{"format": "tabel"}, {"format": "table", "expr": `{host=~"("}`}, {"format": "table", "kind": "often"}} {
		r := runQuery(t, d, nil, dq(t, QueryTypeDowntimes, model, now.Add(-time.Hour), now))
		if r.Error == nil || r.Status != backend.StatusBadRequest {
			t.Errorf("%v: %d %v, want 400", model, r.Status, r.Error)
		}
	}
	if r := runQuery(t, d, nil, dq(t, QueryTypeDowntimes, map[string]any{"format": "tabel"}, now.Add(-time.Hour), now)); !contains(r.Error.Error(), "format") {
		t.Errorf("bad format: %v does not name the format", r.Error)
	}
}
