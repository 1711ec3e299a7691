package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startFarm starts a collector of its own with `hosts` series farm_load{host="wn000000"..}
// (eight-character names), two one-minute points each, and gives it with the host names.
func startFarm(t testing.TB, hosts int) (*testCollector, []string, time.Time) {
	t.Helper()
	if skip, fail := collectorMissing(repoRoot(), ""); skip != "" || fail != "" {
		t.Fatal(skip + fail)
	}
	c, err := startCollector(filepath.Join(repoRoot(), "collector", "bin", "rexmon.js"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	now := time.Now().Unix()
	end := now - now%60 - 60
	names := make([]string, hosts)
	var batch []sample
	for i := range names {
		names[i] = fmt.Sprintf("wn%06d", i)
		for k := int64(0); k < 2; k++ {
			batch = append(batch, sample{Name: "farm_load", Labels: map[string]string{"host": names[i]}, Value: float64(i), Time: end - 60 + 60*k})
		}
	}
	if err := c.post("/api/v1/samples", batch, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.post("/api/v1/admin/flush", nil, nil); err != nil {
		t.Fatal(err)
	}
	return c, names, time.Unix(end, 0)
}

// allHostsSelector is what the frontend makes of an "All" variable holding 8,000 host names:
// the farm's, then more up to wn007999.
func allHostsSelector(hosts []string) string {
	all := append([]string{}, hosts...)
	for i := len(hosts); i < 8000; i++ {
		all = append(all, fmt.Sprintf("wn%06d", i))
	}
	return `farm_load{host=~"(` + strings.Join(all, "|") + `)"}`
}

// An "All" variable over a large farm: the frontend sends host=~"(a|b|…)" with every host.
// Here the variable holds 8,000 eight-character host names, 1,500 of which report farm_load:
// URL-encoded, the selector (≈88 KB) no longer fits the collector's 64 KB header limit, so the
// backend sends its reads by POST and the query works end to end.
func TestQueryAllOverALargeFarm(t *testing.T) {
	c, hosts, end := startFarm(t, 1500)
	sel := allHostsSelector(hosts)
	if len(sel) < 64<<10 {
		t.Fatalf("selector of %d bytes", len(sel))
	}
	d := newDS(t, c.URL, viewerToken)
	q := dq(t, "", map[string]any{"expr": sel, "step": "60"}, end.Add(-10*time.Minute), end.Add(time.Minute))
	frames := mustOK(t, runQuery(t, d, nil, q))
	if len(frames) != len(hosts) {
		t.Fatalf("%d frames, want %d", len(frames), len(hosts))
	}
	for _, f := range frames {
		v := known(f)
		if len(v) == 0 || fmt.Sprintf("wn%06d", int(v[len(v)-1])) != f.Fields[1].Labels["host"] {
			t.Fatalf("host %s: values %v", f.Fields[1].Labels["host"], v)
		}
	}
}

// Event annotations ask for up to 10,000 (the collector's maximum; its default is 1,000) and
// say so on the frame when more matched than were shown.
func TestEventAnnotationsBeyondAThousand(t *testing.T) {
	c, err := startCollector(filepath.Join(repoRoot(), "collector", "bin", "rexmon.js"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	evs := make([]map[string]any, 1500)
	for i := range evs {
		evs[i] = map[string]any{"type": "tick", "source": "clock", "time": start.Add(time.Duration(i) * time.Second).UnixMilli()}
	}
	if err := c.post("/api/v1/events", evs, nil); err != nil {
		t.Fatal(err)
	}
	d := newDS(t, c.URL, viewerToken)
	from, to := start.Add(-time.Minute), start.Add(time.Hour)
	all := annotationFrame(t, d, QueryTypeEvents, map[string]any{}, from, to)
	if all.Rows() != 1500 || all.Meta != nil && len(all.Meta.Notices) > 0 {
		t.Fatalf("default limit: %d rows, meta %+v; want all 1500 and no notice", all.Rows(), all.Meta)
	}
	cut := annotationFrame(t, d, QueryTypeEvents, map[string]any{"limit": 1000}, from, to)
	if cut.Rows() != 1000 || cut.Meta == nil || len(cut.Meta.Notices) != 1 || !strings.HasPrefix(cut.Meta.Notices[0].Text, "1000 of 1500 events shown") {
		t.Fatalf("limit 1000: %d rows, meta %+v", cut.Rows(), cut.Meta)
	}
	for _, bad := range []any{"many", 0, 10001} {
		r := runQuery(t, d, nil, dq(t, QueryTypeEvents, map[string]any{"limit": bad}, from, to))
		if r.Error == nil || r.Status != 400 || !contains(r.Error.Error(), "limit") {
			t.Errorf("limit %v: %d %v", bad, r.Status, r.Error)
		}
	}
}

// The editors' look-ups over the same farm: label values for a selector of ≈88 KB go by POST with a
// JSON body (what the frontend's postResource sends), which no URL would carry through Grafana.
func TestLookupOverALargeFarmByPost(t *testing.T) {
	c, hosts, _ := startFarm(t, 1500)
	sel := allHostsSelector(hosts)
	d := newDS(t, c.URL, viewerToken)
	body, _ := json.Marshal(map[string]any{"match": sel})
	status, answer := postResource(t, d, "label/host/values", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, answer)
	}
	var values []string
	if err := json.Unmarshal(answer, &values); err != nil {
		t.Fatal(err)
	}
	if len(values) != len(hosts) || values[0] != hosts[0] {
		t.Fatalf("%d values (first %v), want %d", len(values), values[:min(1, len(values))], len(hosts))
	}
	// A body that is not a JSON object of parameters is refused, naming it.
	status, answer = postResource(t, d, "labels", []byte(`{"match": {"x": 1}}`))
	if status != http.StatusBadRequest || !strings.Contains(string(answer), `parameter \"match\" must be a string`) {
		t.Fatalf("bad body: %d %s", status, answer)
	}
}
