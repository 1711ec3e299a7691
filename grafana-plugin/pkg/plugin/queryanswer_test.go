package plugin

import (
	"encoding/json"
	"math"
	"math/rand"
	"strconv"
	"testing"
)

// The jsoniter decoding gives exactly what encoding/json gives, numbers to the last bit.
func TestParseQueryAnswerEqualsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	nums := []string{"0", "-0", "1764547200", "1.2345678901", "-1.2345678901e+03", "1e-7", "9.999999999999999e22",
		"123456789012345678", "0.1", "1E5", "2.5e-300", "1.7976931348623157e308", "5e-324", "12.50", "-0.000001"}
	for i := 0; i < 2000; i++ {
		f := math.Float64frombits(r.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			nums = append(nums, strconv.FormatFloat(f, 'g', -1, 64), strconv.FormatFloat(f, 'g', 11, 64))
		}
		nums = append(nums, strconv.FormatFloat(r.Float64()*1000, 'f', r.Intn(12), 64))
	}
	var ts, vs []byte
	for i, n := range nums {
		if i > 0 {
			ts, vs = append(ts, ','), append(vs, ',')
		}
		ts = append(ts, n...)
		if i%7 == 3 {
			vs = append(vs, "null"...)
		} else {
			vs = append(vs, n...)
		}
	}
	doc := `{"data": {"from": 1, "to": 2.5, "step": 60, "cf": "AVERAGE", "extra": [{"a": [true, false, null]}],
	  "series": [{"name": "x\"y", "labels": {"h\u00e9": "a\\b", "": "empty key", "k": null}, "timestamps": [` + string(ts) + `], "values": [` + string(vs) + `]},
	  {"name": "e", "labels": {}, "timestamps": [], "values": []}]}, "other": "z"}`
	var fast collectorQueryResult
	seen, err := parseQueryAnswer([]byte(doc), &fast)
	if err != nil || !seen {
		t.Fatalf("fast: %v %v", seen, err)
	}
	var env struct {
		Data collectorQueryResult `json:"data"`
	}
	if err := json.Unmarshal([]byte(doc), &env); err != nil {
		t.Fatal(err)
	}
	slow := env.Data
	a, _ := json.Marshal(fast)
	b, _ := json.Marshal(slow)
	if string(a) != string(b) {
		t.Fatalf("differ:\n%.300s\n%.300s", a, b)
	}
	for i := range slow.Series[0].Values {
		x, y := fast.Series[0].Values[i], slow.Series[0].Values[i]
		if (x == nil) != (y == nil) || x != nil && math.Float64bits(*x) != math.Float64bits(*y) || math.Float64bits(fast.Series[0].Timestamps[i]) != math.Float64bits(slow.Series[0].Timestamps[i]) {
			t.Fatalf("value %d (%s): %v vs %v", i, nums[i], x, y)
		}
	}
	for _, bad := range []string{`{"data": {"series": [{"values": [1,]}]}}`, `{"data": {"step": x}}`, `{"data": {}} x`, `[1]`, `{"data": {"series": [{"timestamps": [null]}]}}`,
		`{"data": {"series": [{"values": [1 2]}]}}`, `{"data": {"cf": 1}}`, `{"data": {"series": [{"labels": {"a": 1}}]}}`,
		`{"data": {"series": [{"values": ["1"]}]}}`, `{"data": {"from": 1`, `{"data": {"series": [{"values": [1.5e]}]}}`, `]`, ``} {
		var r collectorQueryResult
		if _, err := parseQueryAnswer([]byte(bad), &r); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// The fast path for short decimals gives strconv.ParseFloat's bits, or declines.
func TestExactDecimalMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	cases := []string{"0", "-0", "0.0", "1764547200", "9007199254740991", "9007199254740993", "1e22", "1e23", "3e-22",
		"1.2345678901", "0.000000000000000000001", "123456789012345.6", "1.7976931348623157e308", "4.9e-324", "00012", "1.", ".5", "-", "1e", "1e+", "--1", "1.5e-0"}
	for i := 0; i < 200000; i++ {
		var s string
		switch i % 5 {
		case 0: // rrdtool's values as Node prints them
			s = strconv.FormatFloat((r.Float64()-0.5)*math.Pow(10, float64(r.Intn(30)-12)), 'g', 10+r.Intn(6), 64)
		case 1: // Unix times and counts
			s = strconv.FormatInt(r.Int63n(1<<53), 10)
		case 2: // fixed decimals
			s = strconv.FormatFloat(r.Float64()*1e6, 'f', r.Intn(16), 64)
		case 3: // exponents near the edge of the fast path
			s = strconv.FormatInt(r.Int63n(1e16), 10) + "e" + strconv.Itoa(r.Intn(60)-30)
		default: // any double, shortest form
			s = strconv.FormatFloat(math.Float64frombits(r.Uint64()), 'g', -1, 64)
		}
		cases = append(cases, s)
	}
	fast := 0
	for _, s := range cases {
		got, ok := exactDecimal([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if !ok {
			continue
		}
		fast++
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%q: fast path %v (%x), strconv %v (%x) %v", s, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
	if fast < len(cases)/2 {
		t.Fatalf("the fast path took only %d of %d", fast, len(cases))
	}
}
