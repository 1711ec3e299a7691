package plugin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// cuttingProxy forwards TCP to target but closes each connection once the answer's headers
// and `keep` bytes of its body went through: an answer that breaks off after its status.
func cuttingProxy(t *testing.T, target string, keep int) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	host := strings.TrimPrefix(target, "http://")
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", host)
				if err != nil {
					return
				}
				defer out.Close()
				go func() { _, _ = io.Copy(out, in) }()
				var got []byte
				buf := make([]byte, 64<<10)
				for {
					n, err := out.Read(buf)
					got = append(got, buf[:n]...)
					if i := bytes.Index(got, []byte("\r\n\r\n")); i >= 0 && len(got) >= i+4+keep {
						_, _ = in.Write(got[:i+4+keep])
						return
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// The collector answered with a status, then the answer broke off: the client passes on the
// collector's status (and what came of its message), never "cannot reach the collector".
func TestClientAnswerBrokenOffAfterTheStatus(t *testing.T) {
	c := needCollector(t)
	cl := NewClient(cuttingProxy(t, c.URL, 10), viewerToken, &http.Client{})

	p := url.Values{"match": {`cpu_usage{host=`}} // not a selector: 400
	err := cl.Get(context.Background(), "/api/v1/query", p, nil, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("got %T %v, want the collector's 400", err, err)
	}
	if r := errorResponse(err); r.Status != http.StatusBadRequest || contains(r.Error.Error(), "cannot reach") {
		t.Fatalf("query error %d %v, want 400 without \"cannot reach\"", r.Status, r.Error)
	}

	p = url.Values{"match": {`cpu_usage`}} // fine: 200, cut after 10 bytes of its body
	var res collectorQueryResult
	err = cl.Get(context.Background(), "/api/v1/query", p, nil, &res)
	var ue *UnreachableError
	if err == nil || errors.As(err, &ue) || !contains(err.Error(), "answered 200") || !contains(err.Error(), "broke off") {
		t.Fatalf("got %T %v, want an answer that broke off after 200", err, err)
	}
}

// A selector over the collector's 32 MB body limit: its 413 naming the limit reaches the
// panel, not a reset connection or "cannot reach".
func TestClientSelectorOverTheBodyLimit(t *testing.T) {
	c := needCollector(t)
	cl := NewClient(c.URL, viewerToken, &http.Client{})
	p := url.Values{"match": {`cpu_usage{host=~"(` + strings.Repeat("wn000001|", 4<<20) + `)"}`}}
	err := cl.Post(context.Background(), "/api/v1/query", p, nil, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusRequestEntityTooLarge || !strings.Contains(ae.Message, "limit of 33554432 bytes") {
		t.Fatalf("got %T %v, want the collector's 413 naming the limit", err, err)
	}
}
