package plugin

// Through the plugin protocol as Grafana calls it: the SDK's experimental/datasourcetest starts
// the real gRPC server in-process with the SDK's default middlewares, and its client sends
// protobuf requests and decodes Arrow frames, like Grafana's plugin client does.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/prometheus/client_golang/prometheus"
)

var manageMu sync.Mutex

// startProtocolServer serves NewDatasource over gRPC on a free local port.
func startProtocolServer(t *testing.T) *datasourcetest.TestPluginClient {
	t.Helper()
	manageMu.Lock()
	// A second Manage in one process would panic re-registering the SDK's metrics.
	prometheus.DefaultRegisterer = prometheus.NewRegistry()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	tp, err := datasourcetest.Manage(NewDatasource, datasourcetest.ManageOpts{Address: fmt.Sprintf("127.0.0.1:%d", port)})
	manageMu.Unlock()
	if err != nil {
		t.Fatalf("datasourcetest.Manage: %v", err)
	}
	t.Cleanup(func() { _ = tp.Shutdown() })
	return tp.Client
}

func pluginContext(url, token string) backend.PluginContext {
	s := dsSettings(url, token)
	s.Updated = time.Now()
	return backend.PluginContext{OrgID: 1, PluginID: "rexmon-rrd-datasource", DataSourceInstanceSettings: &s}
}

func TestThroughPluginProtocol(t *testing.T) {
	c := needCollector(t)
	client := startProtocolServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc := pluginContext(c.URL, viewerToken)
	from, to := c.seedRange()

	t.Run("CheckHealth", func(t *testing.T) {
		res, err := client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: pc})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != backend.HealthStatusOk || !contains(res.Message, "series") {
			t.Fatalf("%v %q", res.Status, res.Message)
		}
		bad := pluginContext(c.URL, "wrong")
		bad.DataSourceInstanceSettings.UID = "other"
		res, err = client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: bad})
		if err != nil || res.Status != backend.HealthStatusError || !contains(res.Message, "401") {
			t.Fatalf("bad token: %v %v %q", err, res.Status, res.Message)
		}
	})

	t.Run("alert query", func(t *testing.T) {
		q := backend.DataQuery{
			RefID:         "A",
			JSON:          json.RawMessage(`{"refId":"A","metric":"condor_jobs","agg":"sum","by":["state"]}`),
			TimeRange:     backend.TimeRange{From: from, To: to},
			Interval:      time.Second,
			MaxDataPoints: 43200,
		}
		resp, err := client.QueryData(ctx, &backend.QueryDataRequest{
			PluginContext: pc,
			Headers:       map[string]string{"FromAlert": "true"},
			Queries:       []backend.DataQuery{q},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := resp.Responses["A"]
		col := alertable(t, mustOK(t, r))
		if len(col.Refs) != 2 {
			t.Fatalf("%d series, want idle and running", len(col.Refs))
		}
	})

	t.Run("query error", func(t *testing.T) {
		q := backend.DataQuery{RefID: "B", JSON: json.RawMessage(`{"expr":"cpu_usage{host=~\"(\"}"}`), TimeRange: backend.TimeRange{From: from, To: to}}
		resp, err := client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: pc, Queries: []backend.DataQuery{q}})
		if err != nil {
			t.Fatal(err)
		}
		if r := resp.Responses["B"]; r.Error == nil || r.Status != backend.StatusBadRequest {
			t.Fatalf("bad matcher: %d %v", r.Status, r.Error)
		}
	})

	t.Run("CallResource", func(t *testing.T) {
		var got *backend.CallResourceResponse
		err := client.CallResource(ctx, &backend.CallResourceRequest{
			PluginContext: pc, Path: "label/host/values", Method: http.MethodGet, URL: "label/host/values?match=disk_free",
		}, backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error { got = r; return nil }))
		if err != nil {
			t.Fatal(err)
		}
		var hosts []string
		if got.Status != 200 || json.Unmarshal(got.Body, &hosts) != nil || len(hosts) != 1 || hosts[0] != "fnpc3001" {
			t.Fatalf("%d %s", got.Status, got.Body)
		}
	})
}

// Grafana marks alert queries with the FromAlert header; the plugin passes it on to the collector.
// A recording server stands where the collector would, to see the outbound request's headers.
func TestFromAlertReachesTheCollector(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"from":0,"to":60,"step":60,"cf":"AVERAGE","series":[]}}`))
	}))
	defer rec.Close()
	client := startProtocolServer(t)
	q := backend.DataQuery{RefID: "A", JSON: json.RawMessage(`{"metric":"x"}`), TimeRange: backend.TimeRange{From: time.Unix(0, 0), To: time.Unix(60, 0)}}
	resp, err := client.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: pluginContext(rec.URL, "tok"),
		Headers:       map[string]string{"FromAlert": "true"},
		Queries:       []backend.DataQuery{q},
	})
	if err != nil {
		t.Fatal(err)
	}
	alertable(t, mustOK(t, resp.Responses["A"]))
	mu.Lock()
	defer mu.Unlock()
	if seen.Get("FromAlert") != "true" || seen.Get("Authorization") != "Bearer tok" {
		t.Fatalf("collector saw headers %v", seen)
	}
}

// A collector's 401 or 403 on a resource call becomes a 400 with the collector's message: a
// 401 from /api/datasources/... would make Grafana's frontend end the user's own session.
func TestResourceAuthErrorsBecomeBadRequest(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"error":{"status":%d,"message":"token lacks the viewer role"}}`, status)
		}))
		got, body := resource(t, newDS(t, srv.URL, "tok"), "labels")
		srv.Close()
		var e struct {
			Message string `json:"message"`
		}
		if got != http.StatusBadRequest || json.Unmarshal(body, &e) != nil ||
			!contains(e.Message, fmt.Sprintf("collector answered %d", status)) || !contains(e.Message, "token lacks the viewer role") {
			t.Errorf("collector %d: resource answered %d %s", status, got, body)
		}
	}
}
