package plugin

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

func TestQueryParamsFn(t *testing.T) {
	from, to := time.UnixMilli(1795300000000), time.UnixMilli(1795303600000)
	params := func(model map[string]any) (string, string, error) {
		t.Helper()
		q := dq(t, "", model, from, to)
		var qm QueryModel
		if err := json.Unmarshal(q.JSON, &qm); err != nil {
			t.Fatal(err)
		}
		p, err := queryParams(q, qm, false)
		if err != nil {
			return "", "", err
		}
		return p.Get("match"), p.Get("fn"), nil
	}
	for _, c := range []struct {
		model     map[string]any
		match, fn string
	}{
		{map[string]any{"metric": "jobs_done_total", "fn": "rate"}, "jobs_done_total", "rate"},
		{map[string]any{"metric": "jobs_done_total", "fn": "Delta"}, "jobs_done_total", "delta"},
		{map[string]any{"metric": "jobs_done_total", "fn": ""}, "jobs_done_total", ""},
		{map[string]any{"editorMode": "code", "expr": `rate(jobs_done_total{host="a"})`}, `jobs_done_total{host="a"}`, "rate"},
		// Hand-written (no editorMode), spaces, a bare matcher list inside, a ')' inside a quoted value.
		{map[string]any{"expr": ` rate ( host=~"(a|b)" ) `}, `{host=~"(a|b)"}`, "rate"},
		{map[string]any{"expr": `delta(x{msg=")"})`, "fn": "delta"}, `x{msg=")"}`, "delta"},
		{map[string]any{"expr": `jobs_done_total`, "fn": "rate"}, `jobs_done_total`, "rate"},
	} {
		match, fn, err := params(c.model)
		if err != nil || match != c.match || fn != c.fn {
			t.Errorf("%v: match %q fn %q err %v; want %q %q", c.model, match, fn, err, c.match, c.fn)
		}
	}
	for _, c := range []struct {
		model map[string]any
		want  string
	}{
		{map[string]any{"metric": "x", "fn": "bogus"}, `fn "bogus" is not one of rate, delta`},
		{map[string]any{"expr": `rate(x{host="a"}`}, "fn: rate( is not closed"},
		{map[string]any{"expr": `rate(x{host="a"})) + 1`}, "fn: rate( is not closed"},
		{map[string]any{"expr": `rate(x{msg=")"}`}, "fn: rate( is not closed"},
		{map[string]any{"expr": `rate()`}, "needs a selector"},
		{map[string]any{"expr": `irate(x)`}, "irate(…) is not a function"},
		{map[string]any{"expr": `rate(x)`, "fn": "delta"}, "keep one"},
	} {
		_, _, err := params(c.model)
		if err == nil || !contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.model, err, c.want)
		}
	}
}

// seedCounter writes a raw counter jobs_done_total{host=fnpc3001} to the shared collector:
// 0, 60, 180, 30 (a reset), 90 at one-minute steps ending at seedEnd; it gives the times.
func seedCounter(t *testing.T, c *testCollector) []time.Time {
	t.Helper()
	raw := []float64{0, 60, 180, 30, 90}
	var times []time.Time
	var batch []sample
	for i, v := range raw {
		ts := c.seedEnd.Add(time.Duration(i-len(raw)+1) * time.Minute)
		times = append(times, ts)
		batch = append(batch, sample{Name: "jobs_done_total", Labels: map[string]string{"host": "fnpc3001"}, Value: v, Time: ts.Unix()})
	}
	if err := c.post("/api/v1/samples", batch, nil); err != nil {
		t.Fatalf("seeding the counter: %v", err)
	}
	if err := c.post("/api/v1/admin/flush", map[string]any{}, nil); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return times
}

func TestQueryRateAndDelta(t *testing.T) {
	c := needCollector(t)
	times := seedCounter(t, c)
	d := newDS(t, c.URL, viewerToken)
	from, to := times[0].Add(-2*time.Minute), times[len(times)-1].Add(90*time.Second)
	at := func(model map[string]any) []*float64 {
		t.Helper()
		q := dq(t, "", model, from, to)
		q.Interval = time.Minute
		frames := mustOK(t, runQuery(t, d, nil, q))
		if len(frames) != 1 || len(frames[0].Fields) != 2 {
			t.Fatalf("%v: %d frames", model, len(frames))
		}
		f := frames[0]
		out := make([]*float64, len(times))
		for i := 0; i < f.Rows(); i++ {
			for j, ts := range times {
				if f.Fields[0].At(i).(time.Time).Equal(ts) {
					out[j] = f.Fields[1].At(i).(*float64)
				}
			}
		}
		return out
	}
	str := func(vs []*float64) string {
		s := ""
		for _, v := range vs {
			if v == nil {
				s += " null"
			} else {
				s += fmt.Sprintf(" %g", *v)
			}
		}
		return s
	}
	if got := str(at(map[string]any{"metric": "jobs_done_total", "step": "60"})); got != " 0 60 180 30 90" {
		t.Fatalf("raw counter:%s", got)
	}
	want := " null 1 2 null 1"
	for _, model := range []map[string]any{
		{"metric": "jobs_done_total", "fn": "rate", "step": "60"},
		{"editorMode": "code", "expr": `rate(jobs_done_total{host="fnpc3001"})`, "step": "60"},
		{"expr": `rate(jobs_done_total)`, "step": "60"},
	} {
		if got := str(at(model)); got != want {
			t.Errorf("%v:%s, want%s", model, got, want)
		}
	}
	if got := str(at(map[string]any{"metric": "jobs_done_total", "fn": "delta", "step": "60"})); got != " null 60 120 -150 60" {
		t.Errorf("delta:%s", got)
	}
	// The collector's own check too: a bad fn reaching it is a 400 naming fn.
	var res collectorQueryResult
	err := d.client.Get(t.Context(), "/api/v1/query", map[string][]string{"match": {"jobs_done_total"}, "fn": {"bogus"}}, nil, &res)
	if ae, ok := err.(*APIError); !ok || ae.Status != 400 || ae.Path != "fn" {
		t.Errorf("collector fn=bogus: %v", err)
	}
	r := runQuery(t, d, nil, dq(t, "", map[string]any{"expr": `rate(jobs_done_total`}, from, to))
	if r.Error == nil || r.Status != backend.StatusBadRequest || !contains(r.Error.Error(), "not closed") {
		t.Errorf("unbalanced rate(: %d %v", r.Status, r.Error)
	}
}
