package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// Variable queries pass the dashboard's range: the look-ups then offer only series with data in it.
func TestLookupsByRange(t *testing.T) {
	c := ownCollector(t)
	now := time.Now().Truncate(time.Minute)
	var batch []sample
	for i := 0; i < 5; i++ {
		batch = append(batch,
			sample{Name: "node_load", Labels: map[string]string{"host": "fnpc3001"}, Value: 1, Time: now.Add(time.Duration(i-5) * time.Minute).Unix()},
			sample{Name: "node_load", Labels: map[string]string{"host": "fnpc0042", "rack": "r9"}, Value: 2, Time: now.Add(time.Duration(i-5)*time.Minute - 72*time.Hour).Unix()})
	}
	if err := c.post("/api/v1/samples", batch, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.post("/api/v1/admin/flush", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	d := newDS(t, c.URL, viewerToken)
	list := func(method, path string, body map[string]any) []string {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		status, out := callResource(t, d, method, path, b)
		if status != 200 {
			t.Fatalf("%s %s: %d %s", method, path, status, out)
		}
		var got []string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v: %s", path, err, out)
		}
		return got
	}
	hour := map[string]any{"match": "node_load", "from": now.Add(-time.Hour).UnixMilli(), "to": now.UnixMilli()}
	old := map[string]any{"match": "node_load", "from": now.Add(-96 * time.Hour).UnixMilli(), "to": now.Add(-48 * time.Hour).UnixMilli()}
	for _, c := range []struct {
		method, path string
		body         map[string]any
		want         []string
	}{
		{http.MethodPost, "label/host/values", map[string]any{"match": "node_load"}, []string{"fnpc0042", "fnpc3001"}},
		{http.MethodPost, "label/host/values", hour, []string{"fnpc3001"}},
		{http.MethodPost, "label/host/values", old, []string{"fnpc0042"}},
		{http.MethodPost, "labels", hour, []string{"__name__", "host"}},
		{http.MethodPost, "labels", old, []string{"__name__", "host", "rack"}},
		{http.MethodPost, "metrics", map[string]any{"match": `{host="fnpc0042"}`, "from": now.Add(-time.Hour).UnixMilli()}, []string{}},
		{http.MethodGet, fmt.Sprintf("label/host/values?match=node_load&from=%d", now.Add(-time.Hour).Unix()), nil, []string{"fnpc3001"}},
	} {
		if got := list(c.method, c.path, c.body); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s %v: %v, want %v", c.method, c.path, c.body, got, c.want)
		}
	}
	status, out := postResource(t, d, "label/host/values", []byte(`{"match":"node_load","from":"last tuesday"}`))
	if status != 400 || !contains(string(out), "from") {
		t.Errorf("bad from: %d %s", status, out)
	}
}
