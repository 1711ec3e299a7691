package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// BenchmarkQueryData measures the plugin's QueryData (request to the collector, decoding,
// frames) against a direct HTTP fetch of the same /api/v1/query (the body read, not decoded),
// for 1 and 20 series × 1 day at 60 s, against a real collector; it logs the ratio.
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
		var direct, plugin float64
		b.Run(fmt.Sprintf("series=%d/direct", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest(http.MethodPost, c.URL+"/api/v1/query", strings.NewReader(params.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", "Bearer "+viewerToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 {
					b.Fatal(resp.StatusCode, err)
				}
				resp.Body.Close()
			}
			direct = float64(b.Elapsed()) / float64(b.N)
		})
		b.Run(fmt.Sprintf("series=%d/decode", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var res collectorQueryResult
				if err := d.client.Post(context.Background(), "/api/v1/query", params, nil, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("series=%d/plugin", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
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
			plugin = float64(b.Elapsed()) / float64(b.N)
		})
		if direct > 0 && plugin > 0 {
			fmt.Printf("QueryData %d series × 1 day: direct %s, plugin %s: %.2f×\n", n, time.Duration(direct), time.Duration(plugin), plugin/direct)
		}
	}
}
