package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// A tile's series under a downtime running now gets the downtime's colour and says so, whatever
// the panel's thresholds; without markDowntime, or for other series, nothing changes.
func TestMarkDowntime(t *testing.T) {
	c := ownCollector(t)
	now := time.Now().Unix()
	end := now - now%60
	var batch []sample
	for _, h := range []string{"a", "b", "c"} {
		for i := 0; i < 10; i++ {
			batch = append(batch, sample{Name: "disk_used_pct", Labels: map[string]string{"host": h}, Value: 97, Time: end - int64(9-i)*60})
		}
	}
	if err := c.post("/api/v1/samples", batch, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.post("/api/v1/admin/flush", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []map[string]any{
		{"kind": "planned", "match": `{host="a"}`, "start": now - 600, "end": now + 3600, "author": "alice", "reason": "disk swap"},
		{"kind": "unplanned", "match": `{host="b"}`, "start": now - 600, "end": nil, "author": "bob", "reason": "controller failure"},
	} {
		if err := c.post("/api/v1/downtimes", d, nil); err != nil {
			t.Fatal(err)
		}
	}
	d := newDS(t, c.URL, viewerToken)
	run := func(model string) map[string]string {
		t.Helper()
		q := backend.DataQuery{RefID: "A", JSON: []byte(model), TimeRange: backend.TimeRange{From: time.Unix(end-600, 0), To: time.Unix(end, 0)},
			Interval: time.Minute, MaxDataPoints: 100}
		resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
		if err != nil {
			t.Fatal(err)
		}
		r := resp.Responses["A"]
		if r.Error != nil || len(r.Frames) != 3 {
			t.Fatalf("%v, %d frames", r.Error, len(r.Frames))
		}
		got := map[string]string{}
		for _, f := range r.Frames {
			v := f.Fields[1]
			desc := "-"
			if v.Config != nil && v.Config.Color != nil {
				b, _ := json.Marshal(v.Config.Color)
				desc = fmt.Sprintf("%s %s | %s", b, v.Config.DisplayNameFromDS, v.Config.Description)
			}
			got[v.Labels["host"]] = desc
		}
		return got
	}
	marked := run(`{"expr":"disk_used_pct","legendFormat":"{{host}}","markDowntime":true}`)
	if want := `{"fixedColor":"blue","mode":"fixed"} a (in downtime) | planned downtime #`; !strings.HasPrefix(marked["a"], want) || !strings.HasSuffix(marked["a"], "by alice: disk swap") {
		t.Errorf("host a: %s, want %s…", marked["a"], want)
	}
	if want := `{"fixedColor":"orange","mode":"fixed"} b (in downtime) | unplanned downtime #`; !strings.HasPrefix(marked["b"], want) {
		t.Errorf("host b: %s, want %s…", marked["b"], want)
	}
	if marked["c"] != "-" {
		t.Errorf("host c (no downtime) is marked: %s", marked["c"])
	}
	noLegend := run(`{"expr":"disk_used_pct","markDowntime":true}`)
	if !strings.Contains(noLegend["a"], `disk_used_pct{host="a"} (in downtime)`) {
		t.Errorf("without a legend: %s", noLegend["a"])
	}
	for h, desc := range run(`{"expr":"disk_used_pct","legendFormat":"{{host}}"}`) {
		if desc != "-" {
			t.Errorf("host %s marked without markDowntime: %s", h, desc)
		}
	}
}
