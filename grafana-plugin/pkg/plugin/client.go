package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// APIError is a non-2xx answer of the collector: {"error":{"status":400,"message":"..","path":"match"}}.
type APIError struct {
	Endpoint string // e.g. /api/v1/query
	Status   int
	Message  string
	Path     string // the offending parameter, when the collector names one
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Path != "" && !strings.HasPrefix(msg, e.Path) {
		msg = e.Path + ": " + msg
	}
	return fmt.Sprintf("collector answered %d on %s: %s", e.Status, e.Endpoint, msg)
}

// UnreachableError means no HTTP answer came back from the collector at all.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the rexmon collector at %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Client calls the collector's /api/v1.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient makes a client for base (e.g. http://127.0.0.1:8080).
func NewClient(base, token string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc}
}

// Get calls GET base+endpoint?params and decodes the "data" member of the answer into out.
// extra headers (e.g. FromAlert) are added to the request.
func (c *Client) Get(ctx context.Context, endpoint string, params url.Values, extra http.Header, out any) error {
	return c.call(ctx, http.MethodGet, endpoint, params, extra, out, nil)
}

// GetWithMeta is Get that also decodes the answer's other top-level members (e.g. /events'
// "truncated" and "total") into meta.
func (c *Client) GetWithMeta(ctx context.Context, endpoint string, params url.Values, extra http.Header, out, meta any) error {
	return c.call(ctx, http.MethodGet, endpoint, params, extra, out, meta)
}

// Post is Get with the parameters in a form body (application/x-www-form-urlencoded), as the
// collector's reads (/query, /series, /labels, /label/x/values) take them: selectors of any
// size fit (an "All" variable over a large farm does not fit a URL).
func (c *Client) Post(ctx context.Context, endpoint string, params url.Values, extra http.Header, out any) error {
	return c.call(ctx, http.MethodPost, endpoint, params, extra, out, nil)
}

func (c *Client) call(ctx context.Context, method, endpoint string, params url.Values, extra http.Header, out, meta any) error {
	u := c.base + endpoint
	var form io.Reader
	if method == http.MethodGet && len(params) > 0 {
		u += "?" + params.Encode()
	} else if method != http.MethodGet {
		form = strings.NewReader(params.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, form)
	if err != nil {
		return fmt.Errorf("building the request to %s: %w", endpoint, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range extra {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, isQuery := out.(*collectorQueryResult)
	isQuery = isQuery && meta == nil
	if isQuery {
		req.Header.Set("Accept", queryAccept)
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &UnreachableError{URL: c.base, Err: err}
	}
	defer resp.Body.Close()
	// The status first: an answer that breaks off after it is still the collector's answer.
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return decodeAPIError(endpoint, resp.StatusCode, body)
	}
	rd := &answerReader{r: io.LimitReader(resp.Body, 256<<20)}
	if isQuery {
		// A range query's answer: read whole, parsed once into the frames' columns.
		body, err := io.ReadAll(rd)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return brokenOff(endpoint, resp.StatusCode, len(body), err)
		}
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == queryBinaryType {
			if err := parseQueryBinary(body, res); err != nil {
				return fmt.Errorf("the collector's answer to %s cannot be read: %w", endpoint, err)
			}
			return nil
		}
		seen, err := parseQueryAnswer(body, res)
		if err != nil { // not the shape expected: encoding/json says what is wrong
			*res = collectorQueryResult{}
			var d bool
			if d, err = decodeEnvelope(bytes.NewReader(body), out, nil); err != nil || !d {
				return shapeError(endpoint, d, err, body)
			}
			return nil
		}
		if !seen {
			return shapeError(endpoint, false, nil, body)
		}
		return nil
	}
	// Other answers: one pass as they arrive, "data" straight into out.
	seen, err := decodeEnvelope(rd, out, meta)
	switch {
	case rd.err != nil && rd.err != io.EOF:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return brokenOff(endpoint, resp.StatusCode, rd.n, rd.err)
	case err != nil || (out != nil && !seen):
		return shapeError(endpoint, seen, err, rd.head)
	}
	return nil
}

func decodeAPIError(endpoint string, status int, body []byte) *APIError {
	e := &APIError{Endpoint: endpoint, Status: status}
	var env struct {
		Error struct {
			Message string `json:"message"`
			Path    string `json:"path"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error.Message != "" {
		e.Message, e.Path = env.Error.Message, env.Error.Path
	} else if s := strings.TrimSpace(snippet(body)); s != "" {
		e.Message = http.StatusText(status) + ": " + s
	}
	return e
}

// shapeError says what is wrong with an answer that is not {"data": …} of the expected shape.
func shapeError(endpoint string, seen bool, err error, head []byte) error {
	switch {
	case err != nil && !seen:
		return fmt.Errorf("the collector's answer to %s is not JSON: %w (begins %q)", endpoint, err, snippet(head))
	case err != nil:
		return fmt.Errorf("the collector's answer to %s has an unexpected shape: %w", endpoint, err)
	default:
		return fmt.Errorf("the collector's answer to %s has no \"data\" member (begins %q)", endpoint, snippet(head))
	}
}

// answerReader counts what was read, keeps its beginning (for error messages) and its read error.
type answerReader struct {
	r    io.Reader
	n    int
	head []byte
	err  error
}

func (a *answerReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	a.n += n
	if len(a.head) < 200 {
		a.head = append(a.head, p[:min(n, 200-len(a.head))]...)
	}
	if err != nil {
		a.err = err
	}
	return n, err
}

// brokenOff is a 2xx answer whose body stopped before its end.
func brokenOff(endpoint string, status, n int, err error) error {
	return fmt.Errorf("the collector answered %d on %s but the answer broke off after %d bytes: %w", status, endpoint, n, err)
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// IsNotFound reports whether err is a 404 answer of the collector.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}
