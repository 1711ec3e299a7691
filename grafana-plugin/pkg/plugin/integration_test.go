package plugin

// Integration tests against a real collector (see collector_harness_test.go), calling the
// plugin through the SDK's handler interfaces as Grafana does.

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

func (c *testCollector) seedRange() (time.Time, time.Time) {
	return c.seedEnd.Add(-time.Duration(seedPoints+5) * time.Minute), c.seedEnd.Add(90 * time.Second)
}

func runQuery(t *testing.T, d *Datasource, headers map[string]string, q backend.DataQuery) backend.DataResponse {
	t.Helper()
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "rexmon-test"}},
		Headers:       headers,
		Queries:       []backend.DataQuery{q},
	})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	r, ok := resp.Responses[q.RefID]
	if !ok {
		t.Fatalf("no response for %s", q.RefID)
	}
	return r
}

func mustOK(t *testing.T, r backend.DataResponse) data.Frames {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("query failed (%d): %v", r.Status, r.Error)
	}
	return r.Frames
}

// values of a frame's known points.
func known(f *data.Frame) []float64 {
	var out []float64
	for i := 0; i < f.Rows(); i++ {
		if v := f.Fields[1].At(i).(*float64); v != nil {
			out = append(out, *v)
		}
	}
	return out
}

func byHost(frames data.Frames) map[string]*data.Frame {
	m := map[string]*data.Frame{}
	for _, f := range frames {
		m[f.Fields[1].Labels["host"]] = f
	}
	return m
}

func TestCheckHealthReportsVersionAndSeries(t *testing.T) {
	c := needCollector(t)
	res, err := newDS(t, c.URL, viewerToken).CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != backend.HealthStatusOk {
		t.Fatalf("health %v: %s", res.Status, res.Message)
	}
	var details struct {
		Version string `json:"version"`
		Series  int    `json:"series"`
		User    string `json:"user"`
	}
	if err := json.Unmarshal(res.JSONDetails, &details); err != nil {
		t.Fatal(err)
	}
	if details.Version == "" || details.Series < len(seedSeries()) || details.User != "grafana" {
		t.Fatalf("details %+v (message %q)", details, res.Message)
	}
	if !contains(res.Message, details.Version) || !contains(res.Message, "grafana (viewer)") {
		t.Errorf("message %q", res.Message)
	}
	// No token: anonymous read on localhost.
	res, _ = newDS(t, c.URL, "").CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if res.Status != backend.HealthStatusOk || !contains(res.Message, "anonymously") {
		t.Errorf("anonymous health %v: %s", res.Status, res.Message)
	}
}

func TestCheckHealthFailures(t *testing.T) {
	c := needCollector(t)
	res, _ := newDS(t, c.URL, "not-a-valid-token").CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if res.Status != backend.HealthStatusError || !contains(res.Message, "rejected the API token (401)") {
		t.Errorf("bad token: %v %q", res.Status, res.Message)
	}
	down := closedURL(t)
	res, _ = newDS(t, down, viewerToken).CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if res.Status != backend.HealthStatusError || !contains(res.Message, "cannot reach the rexmon collector at "+down) {
		t.Errorf("collector down: %v %q", res.Status, res.Message)
	}
	inst, err := NewDatasource(context.Background(), dsSettings("", ""))
	if err != nil {
		t.Fatal(err)
	}
	res, _ = inst.(*Datasource).CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if res.Status != backend.HealthStatusError || !contains(res.Message, "collector URL is not set") {
		t.Errorf("no URL: %v %q", res.Status, res.Message)
	}
}

func TestQueryBuilderSeries(t *testing.T) {
	c := needCollector(t)
	d := newDS(t, c.URL, viewerToken)
	from, to := c.seedRange()
	r := runQuery(t, d, nil, dq(t, "", map[string]any{
		"metric":       "cpu_usage",
		"labelFilters": []LabelFilter{{"host", "=~", "fnpc300[12]"}, {"mode", "=", "user"}},
		"legendFormat": "{{host}} ({{mode}})",
		"step":         "60",
	}, from, to))
	frames := mustOK(t, r)
	alertable(t, frames)
	hosts := byHost(frames)
	if len(frames) != 2 || hosts["fnpc3001"] == nil || hosts["fnpc3002"] == nil {
		t.Fatalf("frames for hosts %v", keys(hosts))
	}
	f := hosts["fnpc3001"]
	if f.Fields[1].Name != "cpu_usage" || f.Fields[1].Labels["mode"] != "user" {
		t.Errorf("field %q labels %v", f.Fields[1].Name, f.Fields[1].Labels)
	}
	if dn := f.Fields[1].Config.DisplayNameFromDS; dn != "fnpc3001 (user)" {
		t.Errorf("display name %q", dn)
	}
	if !strings.Contains(f.Meta.ExecutedQueryString, "cf=AVERAGE") {
		t.Errorf("executed %q", f.Meta.ExecutedQueryString)
	}
	vals := known(f)
	if len(vals) < seedPoints-2 {
		t.Fatalf("only %d known points of %d: %v", len(vals), seedPoints, vals)
	}
	// The last seeded value (10+29) is the last point: up to date, nothing trailing unknown.
	if last := vals[len(vals)-1]; last != float64(10+seedPoints-1) {
		t.Errorf("last value %v, want %v", last, 10+seedPoints-1)
	}
	for _, v := range vals {
		if v < 10 || v > float64(10+seedPoints-1) {
			t.Errorf("value %v outside the seeded 10..%d", v, 10+seedPoints-1)
		}
	}
	lastT := f.Fields[0].At(f.Rows() - 1).(time.Time)
	if !lastT.Equal(c.seedEnd) {
		t.Errorf("last time %v, want %v", lastT, c.seedEnd)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestQueryExprWithRegexEscapedValue(t *testing.T) {
	c := needCollector(t)
	d := newDS(t, c.URL, viewerToken)
	from, to := c.seedRange()
	// What the frontend makes of a multi-value variable: =~"(fnpc\.3003|fnpc3001)".
	r := runQuery(t, d, nil, dq(t, "timeseries", map[string]any{"expr": `cpu_usage{host=~"(fnpc\\.3003|fnpc3001)"}`}, from, to))
	hosts := byHost(mustOK(t, r))
	if len(hosts) != 2 || hosts["fnpc.3003"] == nil || hosts["fnpc3001"] == nil {
		t.Fatalf("hosts %v", keys(hosts))
	}
	// Escaped, the dot no longer matches any character.
	r = runQuery(t, d, nil, dq(t, "timeseries", map[string]any{"expr": `host=~"fnpc\\.300.", mode="idle"`}, from, to))
	hosts = byHost(mustOK(t, r))
	if len(hosts) != 1 || hosts["fnpc.3003"] == nil {
		t.Fatalf("hosts %v", keys(hosts))
	}
}

func TestQueryAggregationAndCF(t *testing.T) {
	c := needCollector(t)
	d := newDS(t, c.URL, viewerToken)
	from, to := c.seedRange()
	r := runQuery(t, d, nil, dq(t, "", map[string]any{"metric": "condor_jobs", "agg": "sum", "by": []string{"state"}, "legendFormat": "{{state}}"}, from, to))
	frames := mustOK(t, r)
	alertable(t, frames)
	got := map[string]float64{}
	for _, f := range frames {
		if len(f.Fields[1].Labels) != 1 {
			t.Errorf("aggregated series should carry only the by labels, got %v", f.Fields[1].Labels)
		}
		vals := known(f)
		if len(vals) == 0 {
			t.Fatalf("no values for %v", f.Fields[1].Labels)
		}
		got[f.Fields[1].Labels["state"]] = vals[len(vals)-1]
		if f.Fields[1].Config.DisplayNameFromDS != f.Fields[1].Labels["state"] {
			t.Errorf("legend %q", f.Fields[1].Config.DisplayNameFromDS)
		}
	}
	// idle: s01=1 + s02=2; running: s01=3 + s02=4
	if got["idle"] != 3 || got["running"] != 7 {
		t.Errorf("sum by state = %v, want idle 3, running 7", got)
	}
	r = runQuery(t, d, nil, dq(t, "", map[string]any{"metric": "condor_jobs", "agg": "count"}, from, to))
	frames = mustOK(t, r)
	if len(frames) != 1 {
		t.Fatalf("count without by: %d frames", len(frames))
	}
	// Where no input is known the collector counts 0; while all four are known, 4.
	fours := 0
	for _, v := range known(frames[0]) {
		if v == 4 {
			fours++
		} else if v != 0 {
			t.Errorf("count %v, want 4 (or 0 outside the seeded range)", v)
		}
	}
	if fours < seedPoints-2 {
		t.Errorf("count = 4 at only %d points: %v", fours, known(frames[0]))
	}
	// Consolidation functions over a 3-minute step: MIN <= AVERAGE <= MAX wherever all are known.
	series := map[string]map[int64]float64{}
	for _, cf := range []string{"MIN", "AVERAGE", "MAX", "LAST"} {
		r := runQuery(t, d, nil, dq(t, "", map[string]any{"metric": "cpu_usage", "labelFilters": []LabelFilter{{"host", "=", "fnpc3001"}}, "cf": cf, "step": "3m"}, from, to))
		frames := mustOK(t, r)
		if len(frames) != 1 || !strings.Contains(frames[0].Meta.ExecutedQueryString, "cf="+cf) {
			t.Fatalf("%s: %d frames, executed %q", cf, len(frames), frames[0].Meta.ExecutedQueryString)
		}
		series[cf] = map[int64]float64{}
		f := frames[0]
		for i := 0; i < f.Rows(); i++ {
			if v := f.Fields[1].At(i).(*float64); v != nil {
				series[cf][f.Fields[0].At(i).(time.Time).Unix()] = *v
			}
		}
	}
	compared := 0
	for ts, avg := range series["AVERAGE"] {
		mn, ok1 := series["MIN"][ts]
		mx, ok2 := series["MAX"][ts]
		if ok1 && ok2 {
			compared++
			if !(mn <= avg && avg <= mx) {
				t.Errorf("at %d: MIN %v AVERAGE %v MAX %v", ts, mn, avg, mx)
			}
		}
	}
	if compared == 0 {
		t.Errorf("no common points among MIN/AVERAGE/MAX: %v", series)
	}
}

// An alert rule's query as Grafana's alerting sends it: stored JSON (no variables), FromAlert
// header, Interval 1 s, MaxDataPoints 43200. The frames must be what alerting accepts.
func TestAlertStyleQuery(t *testing.T) {
	c := needCollector(t)
	d := newDS(t, c.URL, viewerToken)
	from, to := c.seedRange()
	q := backend.DataQuery{
		RefID:         "A",
		JSON:          []byte(`{"refId":"A","metric":"cpu_usage","cf":"AVERAGE","datasource":{"type":"rexmon-rrd-datasource","uid":"rexmon"},"intervalMs":1000,"maxDataPoints":43200}`),
		TimeRange:     backend.TimeRange{From: from, To: to},
		Interval:      time.Second,
		MaxDataPoints: 43200,
	}
	r := runQuery(t, d, map[string]string{"fromalert": "true"}, q)
	frames := mustOK(t, r)
	col := alertable(t, frames)
	if len(col.Refs) != 3 {
		t.Fatalf("%d series, want 3 (one alert instance each)", len(col.Refs))
	}
	for _, ref := range col.Refs {
		n, _ := ref.Len()
		if n == 0 {
			t.Errorf("series %v empty", ref.GetLabels())
		}
		for i := 0; i < n; i++ {
			if v, _ := ref.NullableFloat64Value(i); v == nil {
				t.Fatalf("alert frames must not carry unknown points (%v at %d)", ref.GetLabels(), i)
			}
		}
		if ref.GetLabels()["host"] == "" {
			t.Errorf("labels %v", ref.GetLabels())
		}
	}
	// Nothing matches: the typed "no data" answer, not an error.
	q.JSON = []byte(`{"metric":"no_such_metric"}`)
	r = runQuery(t, d, map[string]string{"FromAlert": "true"}, q)
	if !alertable(t, mustOK(t, r)).NoData() {
		t.Errorf("expected no data")
	}
}

func TestQueryErrors(t *testing.T) {
	c := needCollector(t)
	from, to := c.seedRange()
	d := newDS(t, c.URL, viewerToken)
	// A bad matcher: the collector's 400 and its message.
	r := runQuery(t, d, nil, dq(t, "", map[string]any{"expr": `cpu_usage{host=~"("}`}, from, to))
	if r.Error == nil || r.Status != backend.StatusBadRequest || !contains(r.Error.Error(), "collector answered 400") || !contains(r.Error.Error(), "regular expression") {
		t.Errorf("bad matcher: %d %v", r.Status, r.Error)
	}
	if r.ErrorSource != backend.ErrorSourceDownstream {
		t.Errorf("error source %q", r.ErrorSource)
	}
	// A bad token.
	r = runQuery(t, newDS(t, c.URL, "wrong-token"), nil, dq(t, "", map[string]any{"metric": "cpu_usage"}, from, to))
	if r.Error == nil || r.Status != backend.StatusUnauthorized {
		t.Errorf("bad token: %d %v", r.Status, r.Error)
	}
	// The collector down: bad gateway.
	r = runQuery(t, newDS(t, closedURL(t), viewerToken), nil, dq(t, "", map[string]any{"metric": "cpu_usage"}, from, to))
	if r.Error == nil || r.Status != backend.StatusBadGateway || !contains(r.Error.Error(), "cannot reach") {
		t.Errorf("collector down: %d %v", r.Status, r.Error)
	}
	// Mistakes caught before calling the collector.
	for _, m := range []map[string]any{{}, {"metric": "cpu_usage", "cf": "MEDIAN"}, {"metric": "cpu_usage", "agg": "p99"}} {
		r = runQuery(t, d, nil, dq(t, "", m, from, to))
		if r.Error == nil || r.Status != backend.StatusBadRequest {
			t.Errorf("%v: %d %v", m, r.Status, r.Error)
		}
	}
	r = runQuery(t, d, nil, dq(t, "graph", map[string]any{}, from, to))
	if r.Error == nil || !contains(r.Error.Error(), "unknown queryType") {
		t.Errorf("unknown query type: %v", r.Error)
	}
}

// resource calls a resource like the frontend's getResource does.
func resource(t *testing.T, d backend.CallResourceHandler, path string) (int, []byte) {
	t.Helper()
	return callResource(t, d, http.MethodGet, path, nil)
}

// postResource sends a JSON body, as the frontend's postResource does.
func postResource(t *testing.T, d backend.CallResourceHandler, path string, body []byte) (int, []byte) {
	t.Helper()
	return callResource(t, d, http.MethodPost, path, body)
}

func callResource(t *testing.T, d backend.CallResourceHandler, method, path string, body []byte) (int, []byte) {
	t.Helper()
	var got *backend.CallResourceResponse
	u := path
	p := path
	if i := strings.Index(path, "?"); i >= 0 {
		p = path[:i]
	}
	var headers map[string][]string
	if body != nil {
		headers = map[string][]string{"Content-Type": {"application/json"}}
	}
	err := d.CallResource(context.Background(), &backend.CallResourceRequest{
		PluginContext: backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "rexmon-test"}},
		Path:          p,
		Method:        method,
		URL:           u,
		Headers:       headers,
		Body:          body,
	}, backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
		got = r
		return nil
	}))
	if err != nil {
		t.Fatalf("CallResource %s: %v", path, err)
	}
	return got.Status, got.Body
}

func TestCallResource(t *testing.T) {
	c := needCollector(t)
	d := newDS(t, c.URL, viewerToken)
	var list []string
	check := func(path string, want ...string) {
		t.Helper()
		status, body := resource(t, d, path)
		if status != 200 {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		list = nil
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
		for _, w := range want {
			found := false
			for _, v := range list {
				found = found || v == w
			}
			if !found {
				t.Errorf("%s: %q not in %v", path, w, list)
			}
		}
	}
	check("metrics", "cpu_usage", "condor_jobs", "disk_free")
	check("labels?match=cpu_usage", "host", "mode")
	check("label/host/values", "fnpc3001", "fnpc3002", "fnpc.3003")
	check("label/__name__/values", "cpu_usage")
	check("label/schedd/values?match="+urlQuery(`experiment="nova", state="idle"`), "s01", "s02")
	check("label/host/values?match="+urlQuery(`{__name__="disk_free"}`), "fnpc3001")
	if len(list) != 1 {
		t.Errorf("host values for disk_free: %v", list)
	}

	status, body := resource(t, d, "series?match="+urlQuery(`cpu_usage{mode="idle"}`)+"&limit=10")
	var series []struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	}
	if status != 200 || json.Unmarshal(body, &series) != nil || len(series) != 1 || series[0].Labels["host"] != "fnpc.3003" {
		t.Errorf("series: %d %s", status, body)
	}

	// Errors come back with the collector's status and a message the frontend shows.
	var e struct {
		Message string `json:"message"`
	}
	status, body = resource(t, d, "label/host/values?match="+urlQuery(`{host=~"("}`))
	if status != 400 || json.Unmarshal(body, &e) != nil || !contains(e.Message, "regular expression") {
		t.Errorf("bad matcher: %d %s", status, body)
	}
	status, _ = resource(t, d, "nothing/here")
	if status != 404 {
		t.Errorf("unknown resource: %d", status)
	}
	// The collector's 401 must not reach Grafana as the resource call's status: Grafana's
	// frontend would take it for the end of the user's own session. A 400 with its message.
	status, body = resource(t, newDS(t, c.URL, "bad-token"), "metrics")
	if status != 400 || json.Unmarshal(body, &e) != nil || !contains(e.Message, "collector answered 401") {
		t.Errorf("bad token: %d %s", status, body)
	}
	status, body = resource(t, newDS(t, closedURL(t), ""), "metrics")
	if status != 502 || !contains(string(body), "cannot reach") {
		t.Errorf("collector down: %d %s", status, body)
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "\"", "%22", "{", "%7B", "}", "%7D", "=", "%3D", "~", "%7E", "(", "%28", "&", "%26", "+", "%2B", "|", "%7C", ",", "%2C")
	return r.Replace(s)
}
