package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// resourceMux serves resources/<path> for the frontend editors, by GET (parameters in the URL) or by
// POST (a JSON object or a form body: an All variable over a large farm does not fit in a URL).
// Each answers the collector's "data" as is (a JSON array), or an error {"message": "..."} with the
// collector's status, except that the collector's 401/403 become 400 (Grafana's frontend takes a
// 401 from /api/... as the end of its own session) and 5xx or unreachable become 502.
//
//	labels?match=SEL              label names
//	label/<name>/values?match=SEL values of a label (__name__: metric names)
//	metrics?match=SEL             metric names
//	series?match=SEL&limit=N      series (name + labels)
func (d *Datasource) resourceMux() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(path string, h http.HandlerFunc) {
		mux.HandleFunc("GET "+path, h)
		mux.HandleFunc("POST "+path, h)
	}
	handle("/labels", func(w http.ResponseWriter, r *http.Request) {
		d.proxyList(w, r, "/api/v1/labels", "match")
	})
	handle("/label/{name}/values", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if name != "__name__" && !labelNameRe.MatchString(name) {
			writeJSONError(w, http.StatusBadRequest, "label name "+strconv.Quote(name)+" is not valid")
			return
		}
		d.proxyList(w, r, "/api/v1/label/"+url.PathEscape(name)+"/values", "match")
	})
	handle("/metrics", func(w http.ResponseWriter, r *http.Request) {
		d.proxyList(w, r, "/api/v1/label/__name__/values", "match")
	})
	handle("/series", func(w http.ResponseWriter, r *http.Request) {
		d.proxyList(w, r, "/api/v1/series", "match", "limit")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no resource "+r.Method+" "+r.URL.Path+": use labels, label/<name>/values, metrics or series")
	})
	return mux
}

// resourceParams reads a look-up's parameters: the URL's, and for POST also the body's, a JSON
// object of strings, numbers or arrays of strings (what postResource sends) or a form.
func resourceParams(r *http.Request) (url.Values, error) {
	in := r.URL.Query()
	if r.Method != http.MethodPost || r.Body == nil {
		return in, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResourceBody+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the request body: %w", err)
	}
	if len(body) > maxResourceBody {
		return nil, fmt.Errorf("the request body is larger than %d bytes", maxResourceBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return in, nil
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, fmt.Errorf("the body must be a JSON object of parameters: %w", err)
		}
		for k, raw := range doc {
			var one string
			var many []string
			var num json.Number
			switch {
			case json.Unmarshal(raw, &one) == nil:
				in.Add(k, one)
			case json.Unmarshal(raw, &many) == nil:
				for _, v := range many {
					in.Add(k, v)
				}
			case json.Unmarshal(raw, &num) == nil:
				in.Add(k, num.String())
			default:
				return nil, fmt.Errorf("parameter %q must be a string, a number or an array of strings", k)
			}
		}
		return in, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("the form body is malformed: %w", err)
	}
	for k, vs := range form {
		in[k] = append(in[k], vs...)
	}
	return in, nil
}

// The collector takes up to 32 MB; a look-up selector of that size is no use in an editor.
const maxResourceBody = 32 << 20

func (d *Datasource) proxyList(w http.ResponseWriter, r *http.Request, endpoint string, keep ...string) {
	if d.settingsErr != nil {
		writeJSONError(w, http.StatusBadRequest, d.settingsErr.Error())
		return
	}
	in, err := resourceParams(r)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
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
