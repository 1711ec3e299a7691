package plugin

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// skipIfNotServed skips when the collector answers 404 on endpoint (a feature it does not have yet).
func skipIfNotServed(t *testing.T, c *testCollector, endpoint string) {
	t.Helper()
	err := c.get(endpoint+"?from=0&to=1000", viewerToken, nil)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		t.Skipf("the collector does not serve %s yet (404): %s", endpoint, ae.Message)
	}
}

var seedDowntimesOnce = map[*testCollector]bool{}

// seedDowntimes files a planned downtime on fnpc3001 and an unplanned one on fnpc3002, inside
// the seeded hour.
func seedDowntimes(t *testing.T, c *testCollector) (planned, unplanned [2]time.Time) {
	t.Helper()
	planned = [2]time.Time{c.seedEnd.Add(-20 * time.Minute), c.seedEnd.Add(-10 * time.Minute)}
	unplanned = [2]time.Time{c.seedEnd.Add(-8 * time.Minute), c.seedEnd.Add(-5 * time.Minute)}
	if seedDowntimesOnce[c] {
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
	seedDowntimesOnce[c] = true
	return
}

func TestDowntimeAnnotations(t *testing.T) {
	c := needCollector(t)
	skipIfNotServed(t, c, "/api/v1/annotations")
	planned, unplanned := seedDowntimes(t, c)
	d := newDS(t, c.URL, viewerToken)
	from, to := c.seedRange()

	anno := func(model map[string]any) *data.Frame {
		t.Helper()
		q := dq(t, QueryTypeDowntimes, model, from, to)
		q.RefID = "Anno"
		frames := mustOK(t, runQuery(t, d, nil, q))
		if len(frames) != 1 {
			t.Fatalf("%d frames", len(frames))
		}
		f := frames[0]
		if f.Meta != nil && f.Meta.DataTopic != "" {
			t.Errorf("annotation frames must not carry a data topic")
		}
		return f
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

func TestEventAnnotations(t *testing.T) {
	c := needCollector(t)
	d := newDS(t, c.URL, viewerToken)
	from, to := c.seedRange()
	q := dq(t, QueryTypeEvents, map[string]any{}, from, to)
	r := runQuery(t, d, nil, q)
	if r.Status == backend.StatusNotFound {
		// Until the collector serves events, the plugin must say so plainly.
		if r.Error == nil || !contains(r.Error.Error(), "does not serve events") {
			t.Fatalf("404 without a clear message: %v", r.Error)
		}
		t.Skipf("the collector does not serve /api/v1/events yet: %v", r.Error)
	}
	f := mustOK(t, r)[0]
	for i, n := range []string{"time", "title", "text", "tags"} {
		if f.Fields[i].Name != n {
			t.Errorf("field %d %q, want %q", i, f.Fields[i].Name, n)
		}
	}
}
