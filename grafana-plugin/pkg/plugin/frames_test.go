package plugin

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/grafana/dataplane/sdata/timeseries"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

func fp(v float64) *float64 { return &v }

// alertable asserts what Grafana's alerting reads from a response: a multi-frame time series
// collection accepted by the dataplane readers with data validation on, no NaN values, and
// unique label sets (one alert instance per series).
func alertable(t *testing.T, frames data.Frames) timeseries.Collection {
	t.Helper()
	for i, f := range frames {
		if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti || f.Meta.TypeVersion != (data.FrameTypeVersion{0, 1}) {
			t.Fatalf("frame %d: meta %+v, want timeseries-multi version 0.1", i, f.Meta)
		}
	}
	r, err := timeseries.CollectionReaderFromFrames(frames)
	if err != nil {
		t.Fatalf("dataplane reader: %v", err)
	}
	c, err := r.GetCollection(true)
	if err != nil {
		t.Fatalf("dataplane collection: %v", err)
	}
	if len(c.RemainderIndices) != 0 {
		t.Fatalf("dataplane ignored parts of the response: %+v", c.RemainderIndices)
	}
	seen := map[string]bool{}
	for _, ref := range c.Refs {
		key := ref.GetLabels().String()
		if seen[key] {
			t.Fatalf("two series with the same labels %s: Grafana alerting would put the rule in Error", key)
		}
		seen[key] = true
		n, err := ref.Len()
		if err != nil {
			t.Fatal(err)
		}
		var prev time.Time
		for i := 0; i < n; i++ {
			ts, v, err := ref.NullableFloat64Point(i)
			if err != nil {
				t.Fatal(err)
			}
			if v != nil && math.IsNaN(*v) {
				t.Fatalf("NaN in %s at %v", key, ts)
			}
			if i > 0 && !ts.After(prev) {
				t.Fatalf("%s: times not strictly ascending at %d", key, i)
			}
			prev = ts
		}
	}
	return c
}

func TestSeriesFramesCleanAndTyped(t *testing.T) {
	series := []collectorSeries{
		{Name: "cpu_usage", Labels: map[string]string{"host": "b"},
			// unsorted, a duplicate time (second one known), NaN, and a trailing unknown
			Timestamps: []float64{180, 60, 120, 120, 240, 300, 360},
			Values:     []*float64{fp(3), fp(1), nil, fp(2), fp(math.NaN()), fp(4), nil}},
		{Name: "cpu_usage", Labels: map[string]string{"host": "a"},
			Timestamps: []float64{60, 120}, Values: []*float64{fp(5), fp(6)}},
	}
	frames := SeriesFrames("A", series, "{{host}} cpu", false, "exec")
	if len(frames) != 2 {
		t.Fatalf("got %d frames", len(frames))
	}
	c := alertable(t, frames)
	if len(c.Refs) != 2 {
		t.Fatalf("refs %d", len(c.Refs))
	}
	// sorted by labels: host=a first
	if got := frames[0].Fields[1].Labels["host"]; got != "a" {
		t.Errorf("first frame host %q", got)
	}
	b := frames[1]
	if n := b.Rows(); n != 5 { // 60..300: 360 (trailing unknown) trimmed, 240 (NaN) kept as a gap
		t.Fatalf("rows %d, want 5", n)
	}
	want := []*float64{fp(1), fp(2), fp(3), nil, fp(4)}
	for i, w := range want {
		got := b.Fields[1].At(i).(*float64)
		if (got == nil) != (w == nil) || (got != nil && *got != *w) {
			t.Errorf("point %d = %v, want %v", i, got, w)
		}
	}
	if tm := b.Fields[0].At(0).(time.Time); !tm.Equal(time.Unix(60, 0)) {
		t.Errorf("first time %v", tm)
	}
	if dn := b.Fields[1].Config.DisplayNameFromDS; dn != "b cpu" {
		t.Errorf("display name %q", dn)
	}
	// The executed query once per response, on the first frame; the type on every frame.
	if b.RefID != "A" || b.Meta.ExecutedQueryString != "" || b.Meta.Type != data.FrameTypeTimeSeriesMulti || frames[0].Meta.ExecutedQueryString != "exec" {
		t.Errorf("refId %q meta %+v, first frame's %+v", b.RefID, b.Meta, frames[0].Meta)
	}

	// Alert queries drop every unknown point.
	frames = SeriesFrames("A", series, "", true, "")
	alertable(t, frames)
	if n := frames[1].Rows(); n != 4 {
		t.Fatalf("alert rows %d, want 4", n)
	}
	for i := 0; i < frames[1].Rows(); i++ {
		if frames[1].Fields[1].At(i).(*float64) == nil {
			t.Fatalf("null at %d in an alert frame", i)
		}
	}
}

func TestSeriesFramesNameBecomesLabelWhenNeeded(t *testing.T) {
	series := []collectorSeries{
		{Name: "cpu_usage", Labels: map[string]string{"host": "a"}, Timestamps: []float64{60}, Values: []*float64{fp(1)}},
		{Name: "cpu_system", Labels: map[string]string{"host": "a"}, Timestamps: []float64{60}, Values: []*float64{fp(2)}},
	}
	frames := SeriesFrames("A", series, "", true, "")
	alertable(t, frames)
	for _, f := range frames {
		if f.Fields[1].Labels["__name__"] != f.Fields[1].Name {
			t.Errorf("labels %v of %s lack __name__", f.Fields[1].Labels, f.Fields[1].Name)
		}
	}
	// One name: labels stay exactly the series labels.
	frames = SeriesFrames("A", series[:1], "", true, "")
	if _, ok := frames[0].Fields[1].Labels["__name__"]; ok {
		t.Errorf("single-name answer got __name__ label")
	}
	// Aggregated series may have no name: the field is called Value.
	frames = SeriesFrames("A", []collectorSeries{{Labels: map[string]string{"state": "idle"}, Timestamps: []float64{60}, Values: []*float64{fp(1)}}}, "", true, "")
	if frames[0].Fields[1].Name != data.TimeSeriesValueFieldName {
		t.Errorf("field name %q", frames[0].Fields[1].Name)
	}
}

func TestSeriesFramesNoData(t *testing.T) {
	frames := SeriesFrames("A", nil, "", true, "")
	c := alertable(t, frames)
	if !c.NoData() {
		t.Fatalf("expected the no-data collection, got %+v", c)
	}
}

func TestFramesSurviveArrowRoundTrip(t *testing.T) {
	// What Grafana receives is Arrow: the typed meta and labels must survive it.
	frames := SeriesFrames("A", []collectorSeries{{Name: "x", Labels: map[string]string{"h": "a"}, Timestamps: []float64{60, 120}, Values: []*float64{fp(1), nil}}}, "", false, "")
	b, err := frames.MarshalArrow()
	if err != nil {
		t.Fatal(err)
	}
	back, err := data.UnmarshalArrowFrames(b)
	if err != nil {
		t.Fatal(err)
	}
	alertable(t, back)
	if back[0].Fields[1].Labels["h"] != "a" {
		t.Fatalf("labels lost: %v", back[0].Fields[1].Labels)
	}
}

func TestFormatLegend(t *testing.T) {
	l := map[string]string{"host": "fnpc3001", "state": "idle"}
	cases := map[string]string{
		"{{host}} {{state}}":  "fnpc3001 idle",
		"{{ host }}":          "fnpc3001",
		"{{__name__}}/{{x}}!": "cpu/!",
		"plain":               "plain",
	}
	for in, want := range cases {
		if got := FormatLegend(in, "cpu", l); got != want {
			t.Errorf("FormatLegend(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBuildSelector(t *testing.T) {
	cases := []struct {
		metric  string
		filters []LabelFilter
		want    string
		err     bool
	}{
		{"cpu_usage", nil, "cpu_usage", false},
		{"cpu_usage", []LabelFilter{{"host", "=~", "fnpc.*"}, {"mode", "!=", "idle"}, {"", "=", "ignored"}}, `cpu_usage{host=~"fnpc.*", mode!="idle"}`, false},
		{"", []LabelFilter{{"host", "", `a"b\c`}}, `{host="a\"b\\c"}`, false},
		{"weird name", nil, `{__name__="weird name"}`, false},
		{"cpu", []LabelFilter{{"host", "=~", `(a\.b|c)`}}, `cpu{host=~"(a\\.b|c)"}`, false},
		{"cpu", []LabelFilter{{"9host", "=", "a"}}, "", true},
		{"cpu", []LabelFilter{{"host", "==", "a"}}, "", true},
		{"", nil, "", false},
	}
	for _, c := range cases {
		got, err := BuildSelector(c.metric, c.filters)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("BuildSelector(%q, %v) = %q, %v; want %q, err %v", c.metric, c.filters, got, err, c.want, c.err)
		}
	}
}

func TestNormalizeSelector(t *testing.T) {
	cases := map[string]string{
		`host=~"fnpc.*"`:           `{host=~"fnpc.*"}`,
		` host="a", mode!="idle" `: `{host="a", mode!="idle"}`,
		`cpu_usage{host="a"}`:      `cpu_usage{host="a"}`,
		`cpu_usage`:                `cpu_usage`,
		`{__name__=~"cpu.*"}`:      `{__name__=~"cpu.*"}`,
		"":                         "",
	}
	for in, want := range cases {
		if got := NormalizeSelector(in); got != want {
			t.Errorf("NormalizeSelector(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseStep(t *testing.T) {
	cases := map[string]float64{"": 0, "auto": 0, "60": 60, "2.5": 2.5, "30s": 30, "5m": 300, "1h": 3600, "1d": 86400, "1w": 604800}
	for in, want := range cases {
		got, err := ParseStep(in)
		if err != nil || got != want {
			t.Errorf("ParseStep(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "abc", "5x"} {
		if _, err := ParseStep(bad); err == nil {
			t.Errorf("ParseStep(%q) accepted", bad)
		}
	}
}

func dq(t *testing.T, queryType string, model any, from, to time.Time) backend.DataQuery {
	t.Helper()
	b, err := json.Marshal(model)
	if err != nil {
		t.Fatal(err)
	}
	return backend.DataQuery{RefID: "A", QueryType: queryType, JSON: b, TimeRange: backend.TimeRange{From: from, To: to},
		Interval: 15 * time.Second, MaxDataPoints: 1000}
}

func TestQueryParams(t *testing.T) {
	from, to := time.UnixMilli(1795300000000), time.UnixMilli(1795303600000)
	q := dq(t, "", map[string]any{"metric": "cpu_usage", "labelFilters": []LabelFilter{{"host", "=", "a"}},
		"cf": "max", "agg": "sum", "by": []string{"host", " "}, "step": 60}, from, to)
	var qm QueryModel
	if err := json.Unmarshal(q.JSON, &qm); err != nil {
		t.Fatal(err)
	}
	p, err := queryParams(q, qm, false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"match": `cpu_usage{host="a"}`, "from": "1795300000000", "to": "1795303600000",
		"cf": "MAX", "agg": "sum", "by": "host", "step": "60", "maxDataPoints": "1000"}
	for k, v := range want {
		if p.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, p.Get(k), v)
		}
	}
	// Grafana's interval wins over a smaller step; alerting's 1 s interval gives step 1.
	q.Interval = 5 * time.Minute
	p, _ = queryParams(q, qm, false)
	if p.Get("step") != "300" {
		t.Errorf("step %q, want 300", p.Get("step"))
	}
	// Expr overrides the builder and bare matcher lists are wrapped...
	p, _ = queryParams(q, QueryModel{Expr: `host=~"a|b"`, Metric: "ignored"}, false)
	if p.Get("match") != `{host=~"a|b"}` || p.Get("cf") != "AVERAGE" || p.Has("agg") {
		t.Errorf("params %v", p)
	}
	// ...except in builder mode, where a leftover expr is ignored.
	p, _ = queryParams(q, QueryModel{EditorMode: "builder", Expr: `leftover`, Metric: "cpu"}, false)
	if p.Get("match") != "cpu" {
		t.Errorf("builder mode match %q", p.Get("match"))
	}
	for _, bad := range []QueryModel{{}, {Metric: "x", CF: "MEDIAN"}, {Metric: "x", Agg: "p99"}, {Metric: "x", Agg: "sum", By: []string{"a-b"}}, {Metric: "x", Step: "soon"}} {
		if _, err := queryParams(q, bad, false); err == nil {
			t.Errorf("queryParams accepted %+v", bad)
		}
	}
}

// The collector refuses maxDataPoints outside 2..100000 with a 400: the plugin clamps it.
func TestQueryParamsClampMaxDataPoints(t *testing.T) {
	q := dq(t, "", map[string]any{}, time.UnixMilli(1795300000000), time.UnixMilli(1795303600000))
	for in, want := range map[int64]string{1: "2", 2: "2", 43200: "43200", 100000: "100000", 100001: "100000", 5000000: "100000", 0: "", -3: ""} {
		q.MaxDataPoints = in
		p, err := queryParams(q, QueryModel{Metric: "cpu"}, false)
		if err != nil || p.Get("maxDataPoints") != want {
			t.Errorf("MaxDataPoints %d → %q (%v), want %q", in, p.Get("maxDataPoints"), err, want)
		}
	}
}

// Alert rules are evaluated without a dashboard: a stored query that still holds a dashboard
// variable is refused with a 400 that says so (before calling the collector), instead of
// reaching the collector literally and silently giving no data.
func TestAlertQueriesRefuseDashboardVariables(t *testing.T) {
	d := newDS(t, closedURL(t), "")
	from, to := time.UnixMilli(1795300000000), time.UnixMilli(1795303600000)
	alert := map[string]string{"FromAlert": "true"}
	for _, m := range []map[string]any{
		{"expr": `cpu_usage{host="$host"}`},
		{"expr": `{host=~"${host:regex}"}`},
		{"expr": `host="[[host]]"`},
		{"metric": "$metric"},
		{"editorMode": "builder", "metric": "cpu_usage", "expr": "ignored", "labelFilters": []LabelFilter{{"mode", "=", "user"}, {"host", "=~", "fnpc.${host}"}}},
	} {
		r := runQuery(t, d, alert, dq(t, "", m, from, to))
		if r.Error == nil || r.Status != backend.StatusBadRequest || r.ErrorSource != backend.ErrorSourceDownstream ||
			!contains(r.Error.Error(), "dashboard variables do not exist in alert rules") {
			t.Errorf("%v: %d %s %v", m, r.Status, r.ErrorSource, r.Error)
		}
	}
	// Dashboards still send them (the frontend has resolved them; a literal $ is the user's).
	r := runQuery(t, d, nil, dq(t, "", map[string]any{"metric": "$metric"}, from, to))
	if r.Status != backend.StatusBadGateway {
		t.Errorf("dashboard query: %d %v, want the collector to be asked (502: nothing listens)", r.Status, r.Error)
	}
	// Regex syntax that is not a variable passes: an end anchor, an escaped dollar, a builder-mode leftover expr.
	for _, m := range []map[string]any{
		{"expr": `cpu_usage{host=~"fnpc.*$"}`},
		{"expr": `{cost=~"\$[0-9]+"}`},
		{"editorMode": "builder", "metric": "cpu_usage", "expr": `{host="$host"}`},
	} {
		if r := runQuery(t, d, alert, dq(t, "", m, from, to)); r.Status != backend.StatusBadGateway {
			t.Errorf("%v: %d %v, want the collector to be asked", m, r.Status, r.Error)
		}
	}
}

// One rule for error sources: errors caused by the request (query, settings) or by the
// collector are downstream; every one is a per-query error with a status.
func TestErrorResponsesAreDownstream(t *testing.T) {
	from, to := time.UnixMilli(1795300000000), time.UnixMilli(1795303600000)
	d := newDS(t, closedURL(t), "")
	bad := &Datasource{settingsErr: errors.New("the collector URL is missing")}
	for _, c := range []struct {
		d      *Datasource
		q      backend.DataQuery
		status backend.Status
	}{
		{bad, dq(t, "", map[string]any{"metric": "cpu"}, from, to), backend.StatusBadRequest},
		{d, backend.DataQuery{RefID: "A", JSON: []byte(`{"metric":`)}, backend.StatusBadRequest},
		{d, dq(t, "graph", map[string]any{}, from, to), backend.StatusBadRequest},
		{d, dq(t, "", map[string]any{"metric": "cpu", "cf": "MEDIAN"}, from, to), backend.StatusBadRequest},
		{d, dq(t, QueryTypeDowntimes, map[string]any{"kind": "sometimes"}, from, to), backend.StatusBadRequest},
		{d, dq(t, QueryTypeDowntimes, map[string]any{"editorMode": "builder", "labelFilters": []LabelFilter{{"a-b", "=", "x"}}}, from, to), backend.StatusBadRequest},
		{d, dq(t, "", map[string]any{"metric": "cpu"}, from, to), backend.StatusBadGateway},
	} {
		r := runQuery(t, c.d, nil, c.q)
		if r.Error == nil || r.Status != c.status || r.ErrorSource != backend.ErrorSourceDownstream {
			t.Errorf("%s %s: %d %q %v, want %d downstream", c.q.QueryType, c.q.JSON, r.Status, r.ErrorSource, r.Error, c.status)
		}
	}
}

func TestQueryModelStepTakesStringOrNumber(t *testing.T) {
	for in, want := range map[string]string{`{"step":"5m"}`: "5m", `{"step":60}`: "60", `{"step":null}`: "", `{}`: ""} {
		var qm QueryModel
		if err := json.Unmarshal([]byte(in), &qm); err != nil || string(qm.Step) != want {
			t.Errorf("%s → %q, %v", in, qm.Step, err)
		}
	}
	var qm QueryModel
	if err := json.Unmarshal([]byte(`{"step":{}}`), &qm); err == nil {
		t.Errorf("object step accepted")
	}
}

func TestDowntimeAndEventFrames(t *testing.T) {
	end := time.UnixMilli(1795309999000)
	anns := []collectorAnnotation{
		{ID: json.RawMessage(`"d2"`), Time: fp(1795302000000), TimeEnd: nil, Title: "Unplanned downtime", Text: "disk — ops", Tags: []string{"downtime", "unplanned", "host=b"}},
		{ID: json.RawMessage(`7`), Time: fp(1795300000000), TimeEnd: fp(1795301000000), Title: "Planned downtime", Text: "kernel — alice", Tags: []string{"downtime", "planned", "host=a"}},
	}
	f := DowntimeFrame("Anno", anns, end)
	names := []string{"time", "timeEnd", "title", "text", "tags", "id", "color"}
	for i, n := range names {
		if f.Fields[i].Name != n {
			t.Fatalf("field %d = %q, want %q", i, f.Fields[i].Name, n)
		}
	}
	if f.Rows() != 2 || f.Fields[2].At(0) != "Planned downtime" || f.Fields[4].At(0) != "downtime,planned,host=a" || f.Fields[5].At(0) != "7" {
		t.Fatalf("frame %v", f.Fields)
	}
	if !f.Fields[1].At(1).(time.Time).Equal(end) {
		t.Errorf("running downtime should end at the range end, got %v", f.Fields[1].At(1))
	}
	if f.Fields[6].At(1) != colorUnplanned || f.Fields[6].At(0) != colorPlanned {
		t.Errorf("colors %v %v", f.Fields[6].At(0), f.Fields[6].At(1))
	}
	if f.Meta != nil && f.Meta.DataTopic != "" {
		t.Errorf("annotation frames must not set a data topic")
	}

	evs := []collectorEvent{{Time: fp(1795300000000), Type: "job_held", Source: "schedd01", Data: map[string]any{"job": "12.0", "reason": "memory", "n": 3}}}
	f = EventFrame("Anno", evs)
	if f.Rows() != 1 || f.Fields[0].Name != "time" || f.Fields[1].At(0) != "job_held" ||
		f.Fields[2].At(0) != "schedd01: job=12.0, n=3, reason=memory" || f.Fields[3].At(0) != "event,job_held,schedd01" {
		t.Fatalf("event frame %v", f.Fields)
	}
}

func TestLoadSettings(t *testing.T) {
	s, err := LoadSettings(dsSettings("http://127.0.0.1:8080/api/v1/", " tok "))
	if err != nil || s.URL != "http://127.0.0.1:8080" || s.Token != "tok" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://x"} {
		if _, err := LoadSettings(dsSettings(bad, "")); err == nil {
			t.Errorf("URL %q accepted", bad)
		}
	}
	if _, err := LoadSettings(backend.DataSourceInstanceSettings{JSONData: []byte("{")}); err == nil {
		t.Errorf("bad JSON accepted")
	}
	// Grafana's own url field is used when jsonData.url is empty (provisioning with `url:`).
	s, err = LoadSettings(backend.DataSourceInstanceSettings{URL: "http://h:1", JSONData: []byte("{}")})
	if err != nil || s.URL != "http://h:1" {
		t.Fatalf("%+v %v", s, err)
	}
}
