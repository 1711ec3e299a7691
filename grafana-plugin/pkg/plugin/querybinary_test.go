package plugin

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The columns answer the plugin asks for decodes to exactly what the JSON answer of the same query
// decodes to, numbers to the last bit, for the seeded series of a real collector.
func TestColumnsAnswerEqualsJSONAnswer(t *testing.T) {
	c := needCollector(t)
	cl := NewClient(c.URL, viewerToken, &http.Client{})
	end := c.seedEnd.Unix()
	for _, q := range []url.Values{
		{"match": {"cpu_usage"}},
		{"match": {"condor_jobs"}, "agg": {"sum"}, "by": {"state"}},
		{"match": {"disk_free"}, "fn": {"rate"}, "cf": {"MAX"}},
		{"match": {"no_such_series"}},
	} {
		q.Set("from", strconv.FormatInt(end-3600, 10))
		q.Set("to", strconv.FormatInt(end, 10))
		var cols collectorQueryResult
		if err := cl.Post(context.Background(), "/api/v1/query", q, nil, &cols); err != nil {
			t.Fatal(err)
		}
		// What the client's Accept gets is the columns; without it, JSON, read by the JSON parser.
		if typ, _ := rawQuery(t, c.URL, q, queryAccept); typ != queryBinaryType {
			t.Fatalf("the plugin's Accept got %q", typ)
		}
		typ, body := rawQuery(t, c.URL, q, "")
		if !strings.HasPrefix(typ, "application/json") {
			t.Fatalf("JSON answer: %s", typ)
		}
		var js collectorQueryResult
		if _, err := parseQueryAnswer(body, &js); err != nil {
			t.Fatal(err)
		}
		if q.Get("match") != "no_such_series" && (len(js.Series) == 0 || len(js.Series[0].Values) < 10) {
			t.Fatalf("%v: nothing to compare: %+v", q, js)
		}
		if a, b := dump(cols), dump(js); a != b {
			t.Fatalf("%v:\ncolumns %.400s\nJSON    %.400s", q, a, b)
		}
	}
}

func rawQuery(t *testing.T, base string, q url.Values, accept string) (string, []byte) {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/query", strings.NewReader(q.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+viewerToken)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	return resp.Header.Get("Content-Type"), body
}

// dump writes a result with every float as its bits, so equal dumps mean equal numbers.
func dump(r collectorQueryResult) string {
	var b strings.Builder
	bits := func(f float64) { b.WriteString(strconv.FormatUint(math.Float64bits(f), 16) + " ") }
	bits(r.From)
	bits(r.To)
	bits(r.Step)
	b.WriteString(r.CF + "\n")
	for _, s := range r.Series {
		l, _ := json.Marshal(s.Labels)
		d, _ := json.Marshal(s.Downtime)
		b.WriteString(s.Name + string(l) + string(d) + "\n")
		for i := range s.Timestamps {
			bits(s.Timestamps[i])
			if s.Values[i] == nil {
				b.WriteString("null ")
			} else {
				bits(*s.Values[i])
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func columnsBody(header string, floats ...float64) []byte {
	b := append([]byte(queryBinaryMagic), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(header)))
	b = append(b, header...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	for _, f := range floats {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

// A columns answer that does not add up is refused, saying what is wrong; a good one decodes with
// NaN as null and irregular times from their own column.
func TestColumnsAnswerDecoding(t *testing.T) {
	good := columnsBody(`{"from":1,"to":2,"step":60,"cf":"MAX","series":[{"name":"a","labels":{"h":"x"},"rows":2,"start":60,"interval":60},{"name":"b","labels":{},"rows":2}]}`,
		1.5, math.NaN(), 60, 300, 7, 8)
	var r collectorQueryResult
	if err := parseQueryBinary(good, &r); err != nil {
		t.Fatal(err)
	}
	if r.CF != "MAX" || len(r.Series) != 2 || *r.Series[0].Values[0] != 1.5 || r.Series[0].Values[1] != nil ||
		r.Series[0].Timestamps[1] != 120 || r.Series[1].Timestamps[1] != 300 || *r.Series[1].Values[1] != 8 || r.Series[0].Labels["h"] != "x" {
		t.Fatalf("decoded %+v", r)
	}
	hdr := `{"series":[{"name":"a","labels":{},"rows":2,"start":0,"interval":60}]}`
	for name, c := range map[string]struct {
		body []byte
		want string
	}{
		"wrong magic":     {append([]byte("RXQUERY0"), good[8:]...), "RXQUERY1"},
		"too short":       {[]byte("RXQ"), "RXQUERY1"},
		"header too long": {good[:20], "the header says"},
		"bad header":      {columnsBody(`{"series":[`), "the header"},
		"columns short":   {columnsBody(hdr, 1), "announces 2 float64"},
		"bytes left over": {columnsBody(hdr, 1, 2, 3), "announces 2 float64"},
		"negative rows":   {columnsBody(`{"series":[{"rows":-1}]}`), "rows -1"},
	} {
		var r collectorQueryResult
		if err := parseQueryBinary(c.body, &r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// A collector that answers the columns badly gets an error naming the endpoint, not a panic or frames.
func TestColumnsAnswerBrokenByServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", queryBinaryType)
		_, _ = w.Write(columnsBody(`{"series":[{"name":"a","labels":{},"rows":3}]}`, 1))
	}))
	defer srv.Close()
	var r collectorQueryResult
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := NewClient(srv.URL, "", &http.Client{}).Post(ctx, "/api/v1/query", url.Values{}, nil, &r)
	if err == nil || !strings.Contains(err.Error(), "/api/v1/query cannot be read") || !strings.Contains(err.Error(), "announces 6 float64") {
		t.Fatalf("%v", err)
	}
}
