package e2e

// What the batch and job dashboards show is what the stand-in HTCondor and the job events say
// (jobs_seed_test.go), read through the plugin backend: not only that the panels have data.

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// lastByLabels is each series' last non-null value, by its label set.
func lastByLabels(frames data.Frames) map[string]float64 {
	out := map[string]float64{}
	for _, f := range frames {
		for _, fld := range f.Fields {
			if !fld.Type().Numeric() {
				continue
			}
			for i := 0; i < fld.Len(); i++ {
				if v, ok := fld.ConcreteAt(i); ok {
					if x, err := toFloat(v); err == nil && !math.IsNaN(x) {
						out[fld.Labels.String()] = x
					}
				}
			}
		}
	}
	return out
}

func (e *env) lastValues(ctx context.Context, t *testing.T, model map[string]any) map[string]float64 {
	t.Helper()
	model["refId"], model["queryType"] = "A", "timeseries"
	now := time.Now()
	resp, err := e.queryData(ctx, nil, backend.DataQuery{RefID: "A", QueryType: "timeseries", JSON: mustJSON(model),
		TimeRange: backend.TimeRange{From: now.Add(-15 * time.Minute), To: now}, Interval: 5 * time.Second, MaxDataPoints: 1000})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Responses["A"]
	if err := respErr(r); err != nil {
		t.Fatal(err)
	}
	return lastByLabels(r.Frames)
}

func wantValues(t *testing.T, what string, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: %s = %v (present %v), want %v; all: %v", what, k, g, ok, w, got)
		}
	}
}

func TestBatchAndJobDataThroughThePlugin(t *testing.T) {
	e := needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The stand-in's queues: nova 40 held of 110, dune 5 of 115, mu2e 3 of 43; schedd03 never answers.
	wantValues(t, "held per experiment", e.lastValues(ctx, t, map[string]any{"expr": `condor_jobs{state="held"}`, "agg": "sum", "by": []string{"experiment"}}),
		map[string]float64{"experiment=nova": 40, "experiment=dune": 5, "experiment=mu2e": 3})
	wantValues(t, "jobs per experiment", e.lastValues(ctx, t, map[string]any{"expr": `condor_jobs`, "agg": "sum", "by": []string{"experiment"}}),
		map[string]float64{"experiment=nova": 110, "experiment=dune": 115, "experiment=mu2e": 43})
	wantValues(t, "schedds answering", e.lastValues(ctx, t, map[string]any{"expr": `condor_up`}),
		map[string]float64{"schedd=schedd01.fnal.gov": 1, "schedd=schedd02.fnal.gov": 1, "schedd=schedd03.fnal.gov": 0})
	wantValues(t, "slots", e.lastValues(ctx, t, map[string]any{"expr": `condor_slots`, "agg": "sum", "by": []string{"state"}}),
		map[string]float64{"state=Claimed": 40, "state=Unclaimed": 8, "state=Owner": 2})
	idle := e.lastValues(ctx, t, map[string]any{"expr": `condor_oldest_idle_seconds{experiment="dune"}`})
	if v := idle["experiment=dune, schedd=schedd01.fnal.gov"]; v < 3*86400-60 || v > 3*86400+600 {
		t.Errorf("oldest idle dune job on schedd01: %v s, want about 3 days (%v)", v, idle)
	}

	// Job states from the events: running 8 seeded + the lost one + 2 live, held 4, queued 4 + 1 live (the live
	// ones reach the series with the next write of the job timer, every 5 s here).
	want := map[string]float64{"state=running": 11, "state=held": 4, "state=queued": 5, "state=suspended": 0}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		got := e.lastValues(ctx, t, map[string]any{"expr": `job_states`, "agg": "sum", "by": []string{"state"}})
		if time.Now().After(deadline) || string(mustJSON(got)) == string(mustJSON(want)) {
			wantValues(t, "job states", got, want)
			break
		}
	}
	wantValues(t, "silent jobs", e.lastValues(ctx, t, map[string]any{"expr": `job_silent`}),
		map[string]float64{"experiment=nova, site=FNAL": 1, "experiment=dune, site=CERN": 0})
	var silent []struct {
		Job   string `json:"job"`
		State string `json:"state"`
	}
	if err := e.col.api("GET", "/api/v1/jobs?silent=true", viewerToken, nil, &silent); err != nil || len(silent) != 1 || silent[0].Job != "4999.0" || silent[0].State != "running" {
		t.Errorf("silent jobs: %+v (%v), want 4999.0 running", silent, err)
	}

	// The "Job events" annotation has the flag the collector emitted.
	now := time.Now()
	resp, err := e.queryData(ctx, nil, backend.DataQuery{RefID: "Anno", QueryType: "events", TimeRange: backend.TimeRange{From: now.Add(-6 * time.Hour), To: now},
		JSON: mustJSON(map[string]any{"refId": "Anno", "queryType": "events", "expr": `{__name__=~"job[.].+", experiment="nova"}`})})
	if err != nil {
		t.Fatal(err)
	}
	f := resp.Responses["Anno"].Frames[0]
	titles := map[string]int{}
	for i := 0; i < f.Rows(); i++ {
		titles[f.Fields[fieldIndex(f, "title")].At(i).(string)]++
	}
	if titles["job.silent"] != 1 || titles["job.submitted"] < 5 {
		t.Errorf("job event annotations by title: %v; want one job.silent and the submissions", titles)
	}
}
