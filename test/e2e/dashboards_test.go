package e2e

// Every variable, panel and annotation query of every dashboard in dashboards/ runs through the
// built plugin backend against the seeded collector, with the dashboard's time range, and must
// return what its panel draws: a panel or annotation without data fails.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

type dashPanel struct {
	ID              int              `json:"id"`
	Transformations []struct {
		ID      string `json:"id"`
		Options struct {
			Type    string `json:"type"`
			Filters []struct {
				FieldName string `json:"fieldName"`
				Config    struct {
					ID      string `json:"id"`
					Options struct {
						Value string `json:"value"`
					} `json:"options"`
				} `json:"config"`
			} `json:"filters"`
		} `json:"options"`
	} `json:"transformations"`
	Type       string           `json:"type"`
	Title      string           `json:"title"`
	Datasource map[string]any   `json:"datasource"`
	Targets    []map[string]any `json:"targets"`
	Panels     []dashPanel      `json:"panels"`
}

type dashboardFile struct {
	UID         string `json:"uid"`
	Title       string `json:"title"`
	Time        struct{ From, To string }
	Annotations struct {
		List []struct {
			Name       string         `json:"name"`
			BuiltIn    int            `json:"builtIn"`
			Datasource map[string]any `json:"datasource"`
			Target     map[string]any `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Name       string         `json:"name"`
			Type       string         `json:"type"`
			Datasource map[string]any `json:"datasource"`
			Query      map[string]any `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashPanel `json:"panels"`
}

func loadDashboards(t *testing.T) map[string]dashboardFile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(), "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in dashboards/ (%v)", err)
	}
	out := map[string]dashboardFile{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboardFile
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

func isRexmon(ds map[string]any) bool { return ds != nil && ds["uid"] == dsUID }

// The dashboards' range, now-6h to now; Grafana's interval for ~1000 points.
func dashRange() backend.TimeRange {
	now := time.Now()
	return backend.TimeRange{From: now.Add(-6 * time.Hour), To: now}
}

func TestDashboardQueriesThroughThePlugin(t *testing.T) {
	e := needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tr := dashRange()
	for file, d := range loadDashboards(t) {
		t.Run(file, func(t *testing.T) {
			vars := map[string][]string{}
			// Variables first, in order (a later one may use an earlier one), each with the dashboard's range.
			for _, v := range d.Templating.List {
				if v.Type != "query" || !isRexmon(v.Datasource) {
					continue
				}
				q, unknown := interpolateJSON(v.Query, vars)
				if len(unknown) > 0 {
					t.Fatalf("variable %s uses undefined variables %v", v.Name, unknown)
				}
				qm := q.(map[string]any)
				label, _ := qm["label"].(string)
				match, _ := qm["match"].(string)
				status, body, err := e.callResource(ctx, "label/"+label+"/values",
					map[string]any{"match": match, "from": tr.From.UnixMilli(), "to": tr.To.UnixMilli()})
				if err != nil || status != 200 {
					t.Fatalf("variable %s: %d %v %s", v.Name, status, err, body)
				}
				var values []string
				if err := json.Unmarshal(body, &values); err != nil || len(values) == 0 {
					t.Fatalf("variable %s offers no values (%v): %s", v.Name, err, body)
				}
				vars[v.Name] = values // All, as the dashboards open
			}
			if hosts, ok := vars["host"]; ok {
				for _, h := range liveHosts {
					if !containsStr(hosts, h) {
						t.Errorf("$host lacks %s: %v", h, hosts)
					}
				}
			}

			var panels []dashPanel
			var flatten func(ps []dashPanel)
			flatten = func(ps []dashPanel) {
				for _, p := range ps {
					if p.Type == "row" {
						flatten(p.Panels)
						continue
					}
					panels = append(panels, p)
				}
			}
			flatten(d.Panels)
			if len(panels) == 0 {
				t.Fatal("no panels")
			}
			for _, p := range panels {
				t.Run(p.Title, func(t *testing.T) { checkPanel(ctx, t, e, p, vars, tr) })
			}

			for _, a := range d.Annotations.List {
				if a.BuiltIn == 1 {
					continue
				}
				t.Run("annotation "+a.Name, func(t *testing.T) {
					if !isRexmon(a.Datasource) {
						t.Fatalf("annotation on datasource %v, want uid %s", a.Datasource, dsUID)
					}
					q, unknown := interpolateJSON(a.Target, vars)
					if len(unknown) > 0 {
						t.Fatalf("uses undefined variables %v", unknown)
					}
					resp, err := e.queryData(ctx, nil, backend.DataQuery{RefID: "Anno", QueryType: queryType(q), JSON: mustJSON(q), TimeRange: tr, Interval: 30 * time.Second, MaxDataPoints: 1000})
					if err != nil {
						t.Fatal(err)
					}
					r := resp.Responses["Anno"]
					if err := respErr(r); err != nil {
						t.Fatal(err)
					}
					if rowCount(r.Frames) == 0 {
						t.Fatalf("no annotations in the range: %s", mustJSON(q))
					}
					if f := r.Frames[0]; fieldIndex(f, "time") < 0 || fieldIndex(f, "text") < 0 {
						t.Fatalf("annotation frame without time/text: %v", fieldNames(f))
					}
				})
			}
		})
	}
}

func checkPanel(ctx context.Context, t *testing.T, e *env, p dashPanel, vars map[string][]string, tr backend.TimeRange) {
	if !isRexmon(p.Datasource) {
		t.Fatalf("panel datasource %v, want uid %s", p.Datasource, dsUID)
	}
	var queries []backend.DataQuery
	hidden := map[string]bool{}
	var exprs []map[string]any
	for _, tg := range p.Targets {
		ds, _ := tg["datasource"].(map[string]any)
		ref, _ := tg["refId"].(string)
		if ds != nil && ds["uid"] == "__expr__" {
			exprs = append(exprs, tg)
			continue
		}
		if !isRexmon(ds) {
			t.Fatalf("target %s on datasource %v", ref, ds)
		}
		q, unknown := interpolateJSON(tg, vars)
		if len(unknown) > 0 {
			t.Fatalf("target %s uses undefined variables %v", ref, unknown)
		}
		if h, _ := tg["hide"].(bool); h {
			hidden[ref] = true
		}
		queries = append(queries, backend.DataQuery{RefID: ref, QueryType: queryType(q), JSON: mustJSON(q), TimeRange: tr, Interval: 30 * time.Second, MaxDataPoints: 1000})
	}
	if len(queries) == 0 {
		t.Fatal("no rexmon query")
	}
	resp, err := e.queryData(ctx, nil, queries...)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]data.Frames{}
	for _, q := range queries {
		r, ok := resp.Responses[q.RefID]
		if !ok {
			t.Fatalf("no answer for %s", q.RefID)
		}
		if err := respErr(r); err != nil {
			t.Fatalf("%s: %v (%s)", q.RefID, err, q.JSON)
		}
		got[q.RefID] = r.Frames
		if queryFormat(q.JSON) == "table" {
			if n := filteredRows(t, p, r.Frames); n == 0 {
				t.Fatalf("%s: no rows left for the panel (%s)", q.RefID, q.JSON)
			}
			continue
		}
		if nonNullPoints(r.Frames) == 0 {
			t.Fatalf("%s: no values (%s)", q.RefID, q.JSON)
		}
	}
	// Server-side expressions: what they read exists, and math on two series sets can pair them
	// (Grafana joins series with equal labels).
	for _, x := range exprs {
		refs := exprRefs(x)
		for _, r := range refs {
			if _, ok := got[r]; !ok {
				t.Fatalf("expression %v reads %s, which is no query of the panel", x["expression"], r)
			}
		}
		for i := 1; i < len(refs); i++ {
			a, b := labelSetStrings(got[refs[0]]), labelSetStrings(got[refs[i]])
			if strings.Join(a, ";") != strings.Join(b, ";") {
				t.Fatalf("expression %v: series of %s %v and %s %v do not pair by labels", x["expression"], refs[0], a, refs[i], b)
			}
		}
	}
	if len(exprs) == 0 {
		for ref := range hidden {
			t.Errorf("%s is hidden and no expression reads it: the panel would not show it", ref)
		}
	}
}

func queryFormat(b json.RawMessage) string {
	var m struct {
		Format string `json:"format"`
	}
	_ = json.Unmarshal(b, &m)
	return m.Format
}

// filteredRows counts the table rows the panel keeps after its filterByValue transformations
// (include, all filters, "equal" on a string field: what the dashboards use).
func filteredRows(t *testing.T, p dashPanel, frames data.Frames) int {
	n := 0
	for _, f := range frames {
		rows, _ := f.RowLen()
	row:
		for i := 0; i < rows; i++ {
			for _, tr := range p.Transformations {
				if tr.ID != "filterByValue" {
					continue
				}
				if tr.Options.Type != "include" {
					t.Fatalf("filterByValue %q not evaluated by this test", tr.Options.Type)
				}
				for _, flt := range tr.Options.Filters {
					k := fieldIndex(f, flt.FieldName)
					if k < 0 || flt.Config.ID != "equal" {
						t.Fatalf("filter on %q (%s): no such field or not an equal filter; fields %v", flt.FieldName, flt.Config.ID, fieldNames(f))
					}
					v, _ := f.Fields[k].ConcreteAt(i)
					if s, _ := v.(string); s != flt.Config.Options.Value {
						continue row
					}
				}
			}
			n++
		}
	}
	return n
}

// queryType is what Grafana copies from the query's JSON into DataQuery.QueryType.
func queryType(q any) string {
	m, _ := q.(map[string]any)
	s, _ := m["queryType"].(string)
	return s
}

func labelSetStrings(frames data.Frames) []string {
	var out []string
	for _, l := range seriesLabels(frames) {
		out = append(out, l.String())
	}
	sort.Strings(out)
	return out
}

func fieldIndex(f *data.Frame, name string) int {
	for i, fld := range f.Fields {
		if strings.EqualFold(fld.Name, name) {
			return i
		}
	}
	return -1
}

func fieldNames(f *data.Frame) []string {
	var out []string
	for _, fld := range f.Fields {
		out = append(out, fld.Name)
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The http slurper "self" of deploy/rexmon.yaml scrapes the collector's /metrics (with the viewer
// token) into the archive: series that were never seeded appear, labelled job="rexmon".
func TestSelfScrapeFillsTheArchive(t *testing.T) {
	e := needEnv(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var names []string
		err := e.col.api("GET", "/api/v1/label/__name__/values?match=%7Bjob%3D%22rexmon%22%7D", viewerToken, nil, &names)
		// Never seeded: only the scrape can have stored them.
		if err == nil && containsStr(names, "rexmon_series") && containsStr(names, "rexmon_nodejs_heap_size_used_bytes") {
			var slurpers []string
			q := "/api/v1/label/slurper/values?match=" + "rexmon_slurper_runs_total%7Bjob%3D%22rexmon%22%2Cresult%3D%22ok%22%7D"
			if err := e.col.api("GET", q, viewerToken, nil, &slurpers); err == nil && containsStr(slurpers, "self") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the self-scrape stored nothing within 60 s (names %v, %v)\n%s", names, err, e.col.p.logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
