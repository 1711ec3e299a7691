package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

var downtimesSeeded bool // on the one shared test collector

// seedDowntimes files a planned downtime on fnpc3001 and an unplanned one on fnpc3002, inside
// the seeded hour.
func seedDowntimes(t *testing.T, c *testCollector) (planned, unplanned [2]time.Time) {
	t.Helper()
	planned = [2]time.Time{c.seedEnd.Add(-20 * time.Minute), c.seedEnd.Add(-10 * time.Minute)}
	unplanned = [2]time.Time{c.seedEnd.Add(-8 * time.Minute), c.seedEnd.Add(-5 * time.Minute)}
	if downtimesSeeded {
		return
	}
	for _, d := range []map[string]any{
		{"kind": "planned", "match": `{host="fnpc3001"}`, "start": planned[0].Unix(), "end": planned[1].Unix(), "author": "alice", "reason": "kernel update"},
		{"kind": "unplanned", "match": `{host="fnpc3002"}`, "start": unplanned[0].Unix(), "end": unplanned[1].Unix(), "author": "bob", "reason": "disk failure"},
	} {
		if err := c.post("/api/v1/downtimes", d, nil); err != nil {
			t.Fatalf("filing a downtime through the collector API: %v", err)
		}
	}
	downtimesSeeded = true
	return
}

// annotationFrame runs one annotation query and gives its only frame, checked to be an annotation frame.
func annotationFrame(t *testing.T, d *Datasource, queryType string, model map[string]any, from, to time.Time) *data.Frame {
	t.Helper()
	q := dq(t, queryType, model, from, to)
	q.RefID = "Anno"
	frames := mustOK(t, runQuery(t, d, nil, q))
	if len(frames) != 1 {
		t.Fatalf("%d frames", len(frames))
	}
	f := frames[0]
	if f.RefID != "Anno" {
		t.Errorf("refId %q", f.RefID)
	}
	if f.Meta != nil && f.Meta.DataTopic != "" {
		t.Errorf("annotation frames must not carry a data topic")
	}
	return f
}

func TestDowntimeAnnotations(t *testing.T) {
	c := needCollector(t)
	planned, unplanned := seedDowntimes(t, c)
	d := newDS(t, c.URL, viewerToken)
	from, to := c.seedRange()

	anno := func(model map[string]any) *data.Frame {
		t.Helper()
		return annotationFrame(t, d, QueryTypeDowntimes, model, from, to)
	}

	f := anno(map[string]any{})
	if f.Rows() != 2 {
		t.Fatalf("all downtimes: %d rows", f.Rows())
	}
	// Regions in time order: the planned one first.
	if got := f.Fields[0].At(0).(time.Time); !got.Equal(planned[0]) {
		t.Errorf("planned start %v, want %v", got, planned[0])
	}
	if got := f.Fields[1].At(0).(time.Time); !got.Equal(planned[1]) {
		t.Errorf("planned end %v, want %v", got, planned[1])
	}
	if title, text, tags := f.Fields[2].At(0).(string), f.Fields[3].At(0).(string), f.Fields[4].At(0).(string); !strings.Contains(title, "Planned") ||
		!strings.Contains(text, "kernel update") || !strings.Contains(tags, "planned") || !strings.Contains(tags, "downtime") {
		t.Errorf("planned: title %q text %q tags %q", title, text, tags)
	}
	if f.Fields[6].At(1) != colorUnplanned {
		t.Errorf("unplanned colour %v", f.Fields[6].At(1))
	}
	if got := f.Fields[0].At(1).(time.Time); !got.Equal(unplanned[0]) {
		t.Errorf("unplanned start %v, want %v", got, unplanned[0])
	}

	// Filter by kind, and by a matcher as a dashboard writes it (bare, with a regex).
	f = anno(map[string]any{"kind": "unplanned"})
	if f.Rows() != 1 || !strings.Contains(f.Fields[3].At(0).(string), "disk failure") {
		t.Errorf("kind unplanned: %d rows", f.Rows())
	}
	f = anno(map[string]any{"expr": `host=~"(fnpc3001|fnpc9999)"`})
	if f.Rows() != 1 || !strings.Contains(f.Fields[3].At(0).(string), "kernel update") {
		t.Errorf("matcher host=~fnpc3001: %d rows", f.Rows())
	}
	f = anno(map[string]any{"expr": `{host="elsewhere"}`})
	if f.Rows() != 0 {
		t.Errorf("matcher elsewhere: %d rows", f.Rows())
	}

	q := dq(t, QueryTypeDowntimes, map[string]any{"kind": "sometimes"}, from, to)
	if r := runQuery(t, d, nil, q); r.Error == nil || r.Status != backend.StatusBadRequest {
		t.Errorf("bad kind: %d %v", r.Status, r.Error)
	}
	q = dq(t, QueryTypeDowntimes, map[string]any{"expr": `{host=~"("}`}, from, to)
	if r := runQuery(t, d, nil, q); r.Error == nil || r.Status != backend.StatusBadRequest {
		t.Errorf("bad matcher: %d %v", r.Status, r.Error)
	}
}

// seedEvents posts four events through POST /api/v1/events with the editor token: three inside
// the seeded hour (oldest first in the returned times) and one a day before it.
func seedEvents(t *testing.T, c *testCollector) [3]time.Time {
	t.Helper()
	at := [3]time.Time{c.seedEnd.Add(-25 * time.Minute), c.seedEnd.Add(-15 * time.Minute), c.seedEnd.Add(-5*time.Minute + 250*time.Millisecond)}
	if seedEventsOnce[c] {
		return at
	}
	events := []map[string]any{
		{"type": "job.state", "source": "schedd01", "time": at[0].UnixMilli(), "labels": map[string]string{"experiment": "nova"},
			"data": map[string]any{"job": "123.0", "from": "idle", "to": "running"}},
		{"type": "file.delivered", "source": "dcache-door3", "time": at[1].Format(time.RFC3339Nano), "labels": map[string]string{"experiment": "minerva"},
			"data": map[string]any{"file": "r1.root", "bytes": 1024, "checksumOk": true}},
		{"type": "disk.error", "source": "fnpc3001", "time": at[2].UnixMilli(), "labels": map[string]string{"host": "fnpc3001"}},
		{"type": "job.state", "source": "schedd01", "time": c.seedEnd.Add(-24 * time.Hour).Unix(), "data": map[string]any{"job": "1.0"}},
	}
	var accepted struct {
		Accepted int `json:"accepted"`
	}
	if err := c.post("/api/v1/events", events, &accepted); err != nil {
		t.Fatalf("posting events through the collector API: %v", err)
	}
	if accepted.Accepted != len(events) {
		t.Fatalf("the collector accepted %d of %d events", accepted.Accepted, len(events))
	}
	seedEventsOnce[c] = true
	return at
}

var seedEventsOnce = map[*testCollector]bool{}

func TestEventAnnotations(t *testing.T) {
	c := needCollector(t)
	at := seedEvents(t, c)
	d := newDS(t, c.URL, viewerToken)
	from, to := c.seedRange()

	anno := func(model map[string]any) *data.Frame {
		t.Helper()
		f := annotationFrame(t, d, QueryTypeEvents, model, from, to)
		for i, n := range []string{"time", "title", "text", "tags"} {
			if f.Fields[i].Name != n {
				t.Errorf("field %d %q, want %q", i, f.Fields[i].Name, n)
			}
		}
		return f
	}
	row := func(f *data.Frame, i int) (time.Time, string, string, string) {
		return f.Fields[0].At(i).(time.Time), f.Fields[1].At(i).(string), f.Fields[2].At(i).(string), f.Fields[3].At(i).(string)
	}

	// Every event in the range (the one a day earlier is not), oldest first, times to the millisecond.
	f := anno(map[string]any{})
	if f.Rows() != 3 {
		t.Fatalf("all events: %d rows, want 3", f.Rows())
	}
	for i, want := range at {
		if got, _, _, _ := row(f, i); !got.Equal(want.Truncate(time.Millisecond)) {
			t.Errorf("row %d time %v, want %v", i, got, want)
		}
	}
	if _, title, text, tags := row(f, 0); title != "job.state" || text != "schedd01: from=idle, job=123.0, to=running" || tags != "event,job.state,schedd01" {
		t.Errorf("job event: title %q text %q tags %q", title, text, tags)
	}
	if _, title, text, tags := row(f, 1); title != "file.delivered" || text != "dcache-door3: bytes=1024, checksumOk=true, file=r1.root" || tags != "event,file.delivered,dcache-door3" {
		t.Errorf("file event: title %q text %q tags %q", title, text, tags)
	}
	if _, title, text, tags := row(f, 2); title != "disk.error" || text != "fnpc3001" || tags != "event,disk.error,fnpc3001" {
		t.Errorf("disk event: title %q text %q tags %q", title, text, tags)
	}

	// Filter by type, and by a matcher over the events' labels as a dashboard writes it.
	f = anno(map[string]any{"eventType": "disk.error"})
	if _, title, _, _ := row(f, 0); f.Rows() != 1 || title != "disk.error" {
		t.Errorf("eventType disk.error: %d rows", f.Rows())
	}
	f = anno(map[string]any{"expr": `experiment=~"nova|minerva"`})
	if f.Rows() != 2 {
		t.Errorf("matcher experiment=~nova|minerva: %d rows", f.Rows())
	}
	f = anno(map[string]any{"expr": `{experiment="nova"}`, "eventType": "job.state"})
	if _, _, text, _ := row(f, 0); f.Rows() != 1 || !strings.Contains(text, "job=123.0") {
		t.Errorf("type job.state and experiment nova: %d rows", f.Rows())
	}
	f = anno(map[string]any{"expr": `{host="elsewhere"}`})
	if f.Rows() != 0 {
		t.Errorf("matcher elsewhere: %d rows", f.Rows())
	}

	// Errors from the collector reach the panel as a bad request.
	q := dq(t, QueryTypeEvents, map[string]any{"eventType": "has space"}, from, to)
	if r := runQuery(t, d, nil, q); r.Error == nil || r.Status != backend.StatusBadRequest || !contains(r.Error.Error(), "type") {
		t.Errorf("bad event type: %d %v", r.Status, r.Error)
	}
	q = dq(t, QueryTypeEvents, map[string]any{"expr": `{host=~"("}`}, from, to)
	if r := runQuery(t, d, nil, q); r.Error == nil || r.Status != backend.StatusBadRequest {
		t.Errorf("bad matcher: %d %v", r.Status, r.Error)
	}
}
