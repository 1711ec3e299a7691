package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// BenchmarkQueryData measures the plugin's QueryData (request to the collector, decoding,
// frames, Arrow) against a direct HTTP fetch of the same /api/v1/query (the body read, not
// decoded) as JSON and as the float64 columns the plugin asks for, for 1 and 20 series × 1 day
// at 60 s, against a real collector; it logs the ratios.
//
//	go test -run '^$' -bench QueryData -benchtime 50x ./pkg/plugin/
func BenchmarkQueryData(b *testing.B) {
	c, err := startCollector(filepath.Join(repoRoot(), "collector", "bin", "rexmon.js"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.stop)
	now := time.Now().Unix()
	end := now - now%60 - 60
	const points = 1441
	var batch []sample
	for s := 0; s < 20; s++ {
		for i := 0; i < points; i++ {
			batch = append(batch, sample{Name: "bench_load", Labels: map[string]string{"host": fmt.Sprintf("wn%06d", s)},
				Value: float64(s) + float64(i)/7, Time: end - int64(points-1-i)*60})
		}
	}
	if err := c.post("/api/v1/samples", batch, nil); err != nil {
		b.Fatal(err)
	}
	if err := c.post("/api/v1/admin/flush", nil, nil); err != nil {
		b.Fatal(err)
	}
	d := newDS(b, c.URL, viewerToken)
	from, to := time.Unix(end-86400, 0), time.Unix(end, 0)
	for _, n := range []int{1, 20} {
		sel := `bench_load{host="wn000000"}`
		if n == 20 {
			sel = "bench_load"
		}
		q := backend.DataQuery{RefID: "A", JSON: []byte(fmt.Sprintf(`{"expr":%q}`, sel)),
			TimeRange: backend.TimeRange{From: from, To: to}, Interval: 60 * time.Second, MaxDataPoints: points}
		var qm QueryModel
		_ = json.Unmarshal(q.JSON, &qm)
		params, err := queryParams(q, qm, false)
		if err != nil {
			b.Fatal(err)
		}
		// The body read, not decoded: as JSON (any client) and as the columns the plugin asks for.
		fetch := func(b *testing.B, accept string) {
			req, _ := http.NewRequest(http.MethodPost, c.URL+"/api/v1/query", strings.NewReader(params.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+viewerToken)
			req.Header.Set("Accept", accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") == "" {
				b.Fatal(resp.StatusCode, err)
			}
			resp.Body.Close()
		}
		viaPlugin := func(b *testing.B) {
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
			if err != nil {
				b.Fatal(err)
			}
			r := resp.Responses["A"]
			if r.Error != nil || len(r.Frames) != n || r.Frames[0].Rows() < points-2 {
				b.Fatalf("%v, %d frames", r.Error, len(r.Frames))
			}
			// What Grafana receives: the frames encoded as Arrow.
			if _, err := r.Frames.MarshalArrow(); err != nil {
				b.Fatal(err)
			}
		}
		// The three legs take turns in every iteration, so a change of load on the machine (it is
		// shared) weighs on all of them alike; the medians are compared.
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
			legs := []func(*testing.B){
				func(b *testing.B) { fetch(b, "application/json") },
				func(b *testing.B) { fetch(b, queryBinaryType) },
				viaPlugin,
			}
			took := make([][]time.Duration, len(legs))
			for i := 0; i < b.N; i++ {
				for k, leg := range legs {
					t0 := time.Now()
					leg(b)
					took[k] = append(took[k], time.Since(t0))
				}
			}
			p50 := func(d []time.Duration) time.Duration {
				sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
				return d[len(d)/2]
			}
			direct, columns, plugin := p50(took[0]), p50(took[1]), p50(took[2])
			b.ReportMetric(float64(plugin)/float64(columns), "plugin/columns")
			if b.N < 5 { // the framework's first, calibrating run
				return
			}
			fmt.Printf("QueryData %d series × 1 day, p50 of %d: direct JSON %s, direct columns %s, plugin %s: %.2f× JSON, %.2f× columns\n",
				n, b.N, direct, columns, plugin, float64(plugin)/float64(direct), float64(plugin)/float64(columns))
		})
	}
}
