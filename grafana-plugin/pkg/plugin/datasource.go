// Package plugin is the backend of the rexmon-rrd-datasource Grafana plugin: it answers
// Grafana's QueryData, CheckHealth and CallResource calls by calling the rexmon collector's
// HTTP API. Grafana evaluates alert rules only through a backend, so this is what makes
// Grafana alerting on rexmon series work.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
)

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured rexmon datasource (one per Grafana datasource instance).
type Datasource struct {
	settings    Settings
	settingsErr error
	client      *Client
	resources   backend.CallResourceHandler
}

// NewDatasource is the instance factory Grafana's SDK calls for each datasource config.
// Bad settings do not fail here: they are reported by CheckHealth and by every query.
func NewDatasource(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	st, err := LoadSettings(s)
	d := &Datasource{settings: st, settingsErr: err}
	opts, err := s.HTTPClientOptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("http client options: %w", err)
	}
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	d.client = NewClient(st.URL, st.Token, hc)
	d.resources = httpadapter.New(d.resourceMux())
	return d, nil
}

// Dispose is called when the settings change and a new instance replaces this one.
func (d *Datasource) Dispose() {
	d.client.http.CloseIdleConnections()
}

// CallResource serves the editors' look-ups (label names, label values, series).
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

type statusData struct {
	Version       string  `json:"version"`
	Series        int64   `json:"series"`
	UptimeSeconds float64 `json:"uptimeSeconds"`
}

type whoamiData struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// CheckHealth is "Save & test": it reaches the collector, checks the token and reports
// the collector's version and series count, or exactly what failed.
func (d *Datasource) CheckHealth(ctx context.Context, req *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	fail := func(msg string) (*backend.CheckHealthResult, error) {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	}
	if d.settingsErr != nil {
		return fail(d.settingsErr.Error())
	}
	var who whoamiData
	if err := d.client.Get(ctx, "/api/v1/auth/whoami", nil, nil, &who); err != nil {
		var ae *APIError
		switch {
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && d.settings.Token != "":
			return fail(fmt.Sprintf("the collector at %s rejected the API token (401): %s. Paste a valid token into API token, or clear it for anonymous read access.", d.settings.URL, ae.Message))
		case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
			return fail(fmt.Sprintf("the collector at %s requires an API token (401: %s): create a viewer token in the collector's auth.tokens and enter it here.", d.settings.URL, ae.Message))
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			return fail(fmt.Sprintf("%s does not look like a rexmon collector: %v", d.settings.URL, err))
		default:
			return fail(err.Error())
		}
	}
	var st statusData
	if err := d.client.Get(ctx, "/api/v1/status", nil, nil, &st); err != nil {
		return fail(err.Error())
	}
	user := fmt.Sprintf("as %s (%s)", who.Name, who.Role)
	if who.Name == "anonymous" || d.settings.Token == "" {
		user = "anonymously (no API token set)"
	}
	return &backend.CheckHealthResult{
		Status: backend.HealthStatusOk,
		Message: fmt.Sprintf("Connected to rexmon collector %s at %s %s: %d series.",
			st.Version, d.settings.URL, user, st.Series),
		JSONDetails: mustJSON(map[string]any{
			"version": st.Version, "series": st.Series, "user": who.Name, "role": who.Role,
		}),
	}, nil
}
