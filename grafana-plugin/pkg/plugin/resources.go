package plugin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// resourceMux serves GET resources/<path> for the frontend editors. Each answers the
// collector's "data" as is (a JSON array), or an error {"message": "..."} with the
// collector's status, except that the collector's 401/403 become 400 (Grafana's frontend takes a
// 401 from /api/... as the end of its own session) and 5xx or unreachable become 502.
//
//	labels?match=SEL              label names
//	label/<name>/values?match=SEL values of a label (__name__: metric names)
//	metrics?match=SEL             metric names
//	series?match=SEL&limit=N      series (name + labels)
func (d *Datasource) resourceMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /labels", func(w http.ResponseWriter, r *http.Request) {
		d.proxyList(w, r, "/api/v1/labels", "match")
	})
	mux.HandleFunc("GET /label/{name}/values", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if name != "__name__" && !labelNameRe.MatchString(name) {
			writeJSONError(w, http.StatusBadRequest, "label name "+strconv.Quote(name)+" is not valid")
			return
		}
		d.proxyList(w, r, "/api/v1/label/"+url.PathEscape(name)+"/values", "match")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		d.proxyList(w, r, "/api/v1/label/__name__/values", "match")
	})
	mux.HandleFunc("GET /series", func(w http.ResponseWriter, r *http.Request) {
		d.proxyList(w, r, "/api/v1/series", "match", "limit")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no resource "+r.Method+" "+r.URL.Path+": use labels, label/<name>/values, metrics or series")
	})
	return mux
}

func (d *Datasource) proxyList(w http.ResponseWriter, r *http.Request, endpoint string, keep ...string) {
	if d.settingsErr != nil {
		writeJSONError(w, http.StatusBadRequest, d.settingsErr.Error())
		return
	}
	in := r.URL.Query()
	p := url.Values{}
	for _, k := range append(keep, "from", "to") {
		for _, v := range in[k] {
			if k == "match" {
				v = NormalizeSelector(v)
				if v == "" {
					continue
				}
			}
			p.Add(k, v)
		}
	}
	var out json.RawMessage
	if err := d.client.Post(r.Context(), endpoint, p, nil, &out); err != nil {
		var ae *APIError
		var ue *UnreachableError
		switch {
		case errors.As(err, &ae):
			status := ae.Status
			switch {
			case status == http.StatusUnauthorized || status == http.StatusForbidden:
				status = http.StatusBadRequest
			case status >= 500:
				status = http.StatusBadGateway
			}
			writeJSONError(w, status, ae.Error())
		case errors.As(err, &ue):
			writeJSONError(w, http.StatusBadGateway, ue.Error())
		default:
			writeJSONError(w, http.StatusBadGateway, err.Error())
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(map[string]any{"message": msg, "error": map[string]any{"status": status, "message": msg}}))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
