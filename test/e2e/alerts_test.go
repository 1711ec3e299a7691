package e2e

// The alert rules in alerts/: each rexmon query runs through the built plugin backend as Grafana's
// alerting sends it (FromAlert, Interval 1 s, MaxDataPoints 43200, the rule's relative range), must
// return alertable series carrying the labels a downtime's silence matches; the rule's reduce, math
// and threshold steps are evaluated on those frames to see which instances fire on the seeded data;
// and one instance per rule, posted to a real Alertmanager, is silenced by a rexmon downtime of the
// same scope (the collector reconciles it) and active again once the downtime ends.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"go.yaml.in/yaml/v3"
)

// What each rule's instances must carry for a downtime to silence them (the first is the scope
// the test files a downtime on), and which instances fire on the seeded data.
var ruleExpect = map[string]struct {
	labels []string
	fires  []string // label-set strings of the firing instances
}{
	"rexmon-host-no-data":        {[]string{"host"}, []string{"host=fnpc3099"}},
	"rexmon-host-disk-full":      {[]string{"host", "mount"}, []string{"host=stor01, mount=/data"}},
	"rexmon-host-load-high":      {[]string{"host"}, nil},
	"rexmon-dh-error-rate":       {[]string{"service"}, []string{"service=dcache"}},
	"rexmon-collector-dropping":  {[]string{"job", "source", "reason"}, []string{"job=rexmon, reason=queue_full, source=graphite-udp"}},
	"rexmon-batch-held-ratio":    {[]string{"experiment"}, []string{"experiment=nova"}},
	"rexmon-batch-idle-too-long": {[]string{"experiment", "schedd"}, []string{"experiment=dune, schedd=schedd01.fnal.gov"}},
	"rexmon-batch-schedd-down":   {[]string{"schedd"}, []string{"schedd=schedd03.fnal.gov"}},
}

type ruleQuery struct {
	RefID             string `yaml:"refId"`
	DatasourceUID     string `yaml:"datasourceUid"`
	RelativeTimeRange struct {
		From int `yaml:"from"`
		To   int `yaml:"to"`
	} `yaml:"relativeTimeRange"`
	Model map[string]any `yaml:"model"`
}

type rule struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	For          string            `yaml:"for"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	Labels       map[string]string `yaml:"labels"`
	Annotations  map[string]string `yaml:"annotations"`
	Data         []ruleQuery       `yaml:"data"`
	folder       string
}

// grafanaInterpolate is what Grafana's provisioning does to every string of an alerting file:
// "$$" is a literal "$", everything else goes through os.ExpandEnv.
func grafanaInterpolate(s string) string {
	parts := strings.Split(s, "$$")
	for i, p := range parts {
		parts[i] = os.ExpandEnv(p)
	}
	return strings.Join(parts, "$")
}

func interpolateTree(v any) any {
	switch t := v.(type) {
	case string:
		return grafanaInterpolate(t)
	case map[string]any:
		for k, x := range t {
			t[k] = interpolateTree(x)
		}
	case []any:
		for i, x := range t {
			t[i] = interpolateTree(x)
		}
	}
	return v
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot(), "alerts", "*.yaml"))
	var rules []rule
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := yaml.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b, _ = yaml.Marshal(interpolateTree(raw))
		var doc struct {
			Groups []struct {
				Name   string `yaml:"name"`
				Folder string `yaml:"folder"`
				Rules  []rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				r.folder = g.Folder
				rules = append(rules, r)
			}
		}
	}
	if len(rules) == 0 {
		t.Fatal("no alert rules in alerts/")
	}
	return rules
}

// series is one labelled series after the rule's data queries.
type series struct {
	labels data.Labels
	values []float64 // nulls and NaN left out: the plugin drops them for alert queries, as dropNN would
}

func framesToSeries(frames data.Frames) []series {
	var out []series
	for _, f := range frames {
		for _, fld := range f.Fields {
			if !fld.Type().Numeric() {
				continue
			}
			s := series{labels: fld.Labels}
			for i := 0; i < fld.Len(); i++ {
				if v, ok := fld.ConcreteAt(i); ok {
					if x, err := toFloat(v); err == nil && !math.IsNaN(x) {
						s.values = append(s.values, x)
					}
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// number is a reduced value per label set (Grafana's "number" results).
type number map[string]struct {
	labels data.Labels
	v      float64
}

func reduce(in []series, reducer string) (number, error) {
	out := number{}
	for _, s := range in {
		v := math.NaN()
		n := len(s.values)
		switch reducer {
		case "count":
			v = float64(n)
		case "last":
			if n > 0 {
				v = s.values[n-1]
			}
		case "mean":
			if n > 0 {
				sum := 0.0
				for _, x := range s.values {
					sum += x
				}
				v = sum / float64(n)
			}
		case "max":
			for i, x := range s.values {
				if i == 0 || x > v {
					v = x
				}
			}
		default:
			return nil, fmt.Errorf("reducer %q not evaluated by this test", reducer)
		}
		out[s.labels.String()] = struct {
			labels data.Labels
			v      float64
		}{s.labels, v}
	}
	return out, nil
}

// evaluate runs the rule's expressions on the query results; it gives the condition's numbers.
func evaluate(r rule, results map[string][]series) (number, error) {
	nums := map[string]number{}
	for _, q := range r.Data {
		if q.DatasourceUID != "__expr__" {
			continue
		}
		m := q.Model
		switch m["type"] {
		case "reduce":
			if mode, _ := m["settings"].(map[string]any); mode == nil || mode["mode"] != "dropNN" {
				return nil, fmt.Errorf("%s: reduce without settings.mode dropNN (strict mode turns a gap into NaN)", q.RefID)
			}
			in, ok := results[m["expression"].(string)]
			if !ok {
				return nil, fmt.Errorf("%s reduces %v, which is not a query", q.RefID, m["expression"])
			}
			out, err := reduce(in, m["reducer"].(string))
			if err != nil {
				return nil, err
			}
			nums[q.RefID] = out
		case "math":
			refs := exprRefs(m)
			expr := m["expression"].(string)
			if len(refs) != 2 || expr != fmt.Sprintf("$%s / $%s * 100", refs[0], refs[1]) {
				return nil, fmt.Errorf("%s: math %q is not one this test evaluates", q.RefID, expr)
			}
			a, b := nums[refs[0]], nums[refs[1]]
			if a == nil || b == nil {
				return nil, fmt.Errorf("%s: math reads %v, not reduced numbers", q.RefID, refs)
			}
			out := number{}
			for k, x := range a {
				y, ok := b[k]
				if !ok {
					return nil, fmt.Errorf("%s: %s has no partner with equal labels in %s", q.RefID, k, refs[1])
				}
				out[k] = struct {
					labels data.Labels
					v      float64
				}{x.labels, x.v / y.v * 100}
			}
			nums[q.RefID] = out
		case "threshold":
			in := nums[m["expression"].(string)]
			if in == nil {
				return nil, fmt.Errorf("%s: threshold on %v, not a number", q.RefID, m["expression"])
			}
			conds := m["conditions"].([]any)
			ev := conds[0].(map[string]any)["evaluator"].(map[string]any)
			limit, _ := toFloat(ev["params"].([]any)[0])
			if li, ok := ev["params"].([]any)[0].(int); ok {
				limit = float64(li)
			}
			out := number{}
			for k, x := range in {
				fire := 0.0
				switch ev["type"] {
				case "gt":
					if x.v > limit {
						fire = 1
					}
				case "lt":
					if x.v < limit {
						fire = 1
					}
				default:
					return nil, fmt.Errorf("%s: evaluator %v not evaluated by this test", q.RefID, ev["type"])
				}
				out[k] = struct {
					labels data.Labels
					v      float64
				}{x.labels, fire}
			}
			nums[q.RefID] = out
		default:
			return nil, fmt.Errorf("%s: expression type %v not evaluated by this test", q.RefID, m["type"])
		}
	}
	c, ok := nums[r.Condition]
	if !ok {
		return nil, fmt.Errorf("condition %q is no expression of the rule", r.Condition)
	}
	return c, nil
}

func TestAlertRulesThroughThePlugin(t *testing.T) {
	e := needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Setenv("REXMON_ALERT_EMAIL", "ops@example.org")
	for _, r := range loadRules(t) {
		t.Run(r.UID, func(t *testing.T) {
			want, ok := ruleExpect[r.UID]
			if !ok {
				t.Fatalf("rule %s is not in this test's ruleExpect: add the labels its silences match and what fires", r.UID)
			}
			results := map[string][]series{}
			for _, q := range r.Data {
				if q.DatasourceUID == "__expr__" {
					continue
				}
				if q.DatasourceUID != dsUID {
					t.Fatalf("%s on datasource %q, want %q", q.RefID, q.DatasourceUID, dsUID)
				}
				if q.RelativeTimeRange.From <= q.RelativeTimeRange.To {
					t.Fatalf("%s: relativeTimeRange %+v", q.RefID, q.RelativeTimeRange)
				}
				now := time.Now()
				qt, _ := q.Model["queryType"].(string)
				dq := backend.DataQuery{
					RefID: q.RefID, QueryType: qt, JSON: mustJSON(q.Model), Interval: time.Second, MaxDataPoints: 43200,
					TimeRange: backend.TimeRange{From: now.Add(-time.Duration(q.RelativeTimeRange.From) * time.Second), To: now.Add(-time.Duration(q.RelativeTimeRange.To) * time.Second)},
				}
				resp, err := e.queryData(ctx, map[string]string{"FromAlert": "true"}, dq)
				if err != nil {
					t.Fatal(err)
				}
				res := resp.Responses[q.RefID]
				if err := respErr(res); err != nil {
					t.Fatalf("%s: %v", q.RefID, err)
				}
				ss := framesToSeries(res.Frames)
				if len(ss) == 0 {
					t.Fatalf("%s returns no series: %s", q.RefID, dq.JSON)
				}
				seen := map[string]bool{}
				for _, s := range ss {
					for _, name := range want.labels {
						if s.labels[name] == "" {
							t.Fatalf("%s: series %s lacks label %q, which the downtime silences match", q.RefID, s.labels, name)
						}
					}
					if seen[s.labels.String()] {
						t.Fatalf("%s: two series with labels %s: Grafana puts the rule in Error", q.RefID, s.labels)
					}
					seen[s.labels.String()] = true
				}
				results[q.RefID] = ss
			}
			cond, err := evaluate(r, results)
			if err != nil {
				t.Fatal(err)
			}
			var fires []string
			for _, x := range cond {
				if x.v == 1 {
					fires = append(fires, x.labels.String())
				}
			}
			sort.Strings(fires)
			if strings.Join(fires, ";") != strings.Join(want.fires, ";") {
				t.Fatalf("firing instances %v, want %v", fires, want.fires)
			}
			// The instance the silence test uses: a firing one, else any.
			keys := make([]string, 0, len(cond))
			for k := range cond {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			inst := cond[keys[0]].labels
			for _, k := range keys {
				if cond[k].v == 1 {
					inst = cond[k].labels
					break
				}
			}
			t.Run("silenced by a downtime", func(t *testing.T) { silenceRoundTrip(ctx, t, e, r, inst, want.labels[0]) })
		})
	}
}

// alertLabels are the labels Grafana gives the instance: the series' plus the rule's, alertname and folder.
func alertLabels(r rule, series data.Labels) map[string]string {
	out := map[string]string{"alertname": r.Title, "grafana_folder": r.folder, "__alert_rule_uid__": r.UID}
	for k, v := range r.Labels {
		out[k] = v
	}
	for k, v := range series {
		out[k] = v
	}
	return out
}

type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
	} `json:"status"`
}

func (e *env) am(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(mustJSON(body))
	}
	req, _ := http.NewRequest(method, e.amURL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager %s %s: %s %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (e *env) alertState(labels map[string]string) (string, error) {
	var alerts []amAlert
	if err := e.am("GET", "/api/v2/alerts", nil, &alerts); err != nil {
		return "", err
	}
	for _, a := range alerts {
		if fmt.Sprint(a.Labels) == fmt.Sprint(labels) {
			return a.Status.State, nil
		}
	}
	return "absent", nil
}

func (e *env) waitAlertState(t *testing.T, labels map[string]string, want string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		got, err := e.alertState(labels)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			var sync any
			_ = e.col.api("GET", "/api/v1/downtimes/sync", viewerToken, nil, &sync)
			t.Fatalf("alert %v is %q (%v), want %q within 45 s; sync state %s", labels, got, err, want, mustJSON(sync))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func silenceRoundTrip(ctx context.Context, t *testing.T, e *env, r rule, inst data.Labels, scope string) {
	labels := alertLabels(r, inst)
	now := time.Now().UTC()
	post := func() {
		alert := map[string]any{"labels": labels, "annotations": map[string]string{"summary": r.Annotations["summary"]},
			"startsAt": now.Format(time.RFC3339), "endsAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
		if err := e.am("POST", "/api/v2/alerts", []any{alert}, nil); err != nil {
			t.Fatal(err)
		}
	}
	post()
	e.waitAlertState(t, labels, "active")

	var d struct {
		ID int `json:"id"`
	}
	match := fmt.Sprintf(`{%s=%q}`, scope, inst[scope])
	in := map[string]any{"kind": "planned", "match": match, "end": time.Now().Add(time.Hour).Unix(), "author": "e2e", "reason": "silence test for " + r.UID}
	if err := e.col.api("POST", "/api/v1/downtimes", editorToken, in, &d); err != nil {
		t.Fatal(err)
	}
	e.waitAlertState(t, labels, "suppressed")

	if err := e.col.api("POST", fmt.Sprintf("/api/v1/downtimes/%d/end", d.ID), editorToken, map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	post() // Grafana re-sends firing alerts every evaluation; the state is re-read either way
	e.waitAlertState(t, labels, "active")
}
