package plugin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Settings is what the config editor stores: jsonData.url and secureJsonData.apiToken.
type Settings struct {
	// URL of the rexmon collector, e.g. http://127.0.0.1:8080 (no /api/v1 suffix needed).
	URL string `json:"url"`
	// Token is the collector API token, sent as "Authorization: Bearer <token>".
	// Empty means anonymous access (allowed by the collector for reads when auth.anonymousRead is on).
	Token string `json:"-"`
}

// LoadSettings reads and validates a datasource instance's settings.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var st Settings
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &st); err != nil {
			return st, fmt.Errorf("the datasource settings (jsonData) are not valid JSON: %w", err)
		}
	}
	if st.URL == "" {
		// Grafana's own URL field, in case the datasource was provisioned with `url:`.
		st.URL = s.URL
	}
	st.URL = strings.TrimRight(strings.TrimSpace(st.URL), "/")
	st.URL = strings.TrimSuffix(st.URL, "/api/v1")
	st.Token = strings.TrimSpace(s.DecryptedSecureJSONData["apiToken"])
	if st.URL == "" {
		return st, fmt.Errorf("the collector URL is not set: enter it in the datasource settings (e.g. http://127.0.0.1:8080)")
	}
	u, err := url.Parse(st.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return st, fmt.Errorf("the collector URL %q is not valid: expected http(s)://host:port", st.URL)
	}
	return st, nil
}
