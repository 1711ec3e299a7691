package plugin

import (
	"errors"
	"io"
	"strconv"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
)

// parseQueryAnswer decodes a whole /api/v1/query answer, {"data": {"from", "to", "step", "cf",
// "series": [{"name", "labels", "timestamps", "values"}]}}, in one pass with jsoniter's streaming
// Iterator straight into the columns the frames use (encoding/json scanned it two or three times
// and allocated per value). Unknown members are skipped; any other shape is an error, and the
// caller then decodes with encoding/json to say what is wrong. It reports whether "data" was there.
//
// Numbers: jsoniter's ReadFloat64 gives strconv.ParseFloat's float64 (its fast path takes only
// mantissas under 2^53 with at most 6 decimals, one correctly rounded divide; the rest goes to
// ParseFloat), but that rest, which is most of the collector's numbers (11 to 17 digits), costs
// it a heap string per number. So the number's token is copied into a reused buffer and parsed by
// strconv.ParseFloat: the same bits, no allocation.
func parseQueryAnswer(b []byte, out *collectorQueryResult) (bool, error) {
	it := jsoniter.ConfigDefault.BorrowIterator(b)
	defer jsoniter.ConfigDefault.ReturnIterator(it)
	d := answerDecoder{it: it, scratch: make([]byte, 0, 32)} // non-nil: SkipAndAppendBytes needs a buffer
	seen := false
	if it.WhatIsNext() != jsoniter.ObjectValue {
		return false, errNotObject
	}
	it.ReadObjectCB(func(it *jsoniter.Iterator, k string) bool {
		if k != "data" {
			it.Skip()
			return it.Error == nil
		}
		seen = true
		d.data(out)
		return it.Error == nil
	})
	if it.Error == nil {
		// Nothing after the answer: the end of the input reads as io.EOF.
		if it.WhatIsNext(); it.Error == nil {
			it.ReportError("parseQueryAnswer", "data after the answer")
		}
		if it.Error == io.EOF {
			it.Error = nil
		}
	}
	return seen, it.Error
}

var errNotObject = errors.New("the answer is not a JSON object")

type answerDecoder struct {
	it      *jsoniter.Iterator
	scratch []byte // a number's token
}

func (d *answerDecoder) data(out *collectorQueryResult) {
	d.it.ReadObjectCB(func(it *jsoniter.Iterator, k string) bool {
		switch k {
		case "from":
			out.From, _ = d.number()
		case "to":
			out.To, _ = d.number()
		case "step":
			out.Step, _ = d.number()
		case "cf":
			out.CF = it.ReadString()
		case "series":
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				var s collectorSeries
				d.series(&s)
				out.Series = append(out.Series, s)
				return it.Error == nil
			})
		default:
			it.Skip()
		}
		return it.Error == nil
	})
}

func (d *answerDecoder) series(s *collectorSeries) {
	d.it.ReadObjectCB(func(it *jsoniter.Iterator, k string) bool {
		switch k {
		case "name":
			s.Name = it.ReadString()
		case "labels":
			if it.WhatIsNext() == jsoniter.NilValue {
				it.Skip()
				break
			}
			s.Labels = map[string]string{}
			it.ReadObjectCB(func(it *jsoniter.Iterator, k string) bool {
				s.Labels[k] = it.ReadString()
				return it.Error == nil
			})
		case "timestamps":
			ts := make([]float64, 0, 1024)
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				v, ok := d.number()
				if !ok && it.Error == nil {
					it.ReportError("timestamps", "null in an array of numbers")
				}
				ts = append(ts, v)
				return it.Error == nil
			})
			s.Timestamps = ts
		case "values":
			// The known values share slabs; nulls are nil.
			slab := make([]float64, 0, max(len(s.Timestamps), 16))
			vs := make([]*float64, 0, cap(slab))
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				v, ok := d.number()
				if !ok {
					vs = append(vs, nil)
					return it.Error == nil
				}
				if len(slab) == cap(slab) { // more values than timestamps: a new slab
					slab = make([]float64, 0, cap(slab)*2)
				}
				slab = append(slab, v)
				vs = append(vs, &slab[len(slab)-1])
				return it.Error == nil
			})
			s.Values = vs
		default:
			it.Skip()
		}
		return it.Error == nil
	})
}

// number reads a JSON number, or null (ok false), exactly as strconv.ParseFloat.
func (d *answerDecoder) number() (v float64, ok bool) {
	it := d.it
	switch it.WhatIsNext() {
	case jsoniter.NilValue:
		it.Skip()
		return 0, false
	case jsoniter.NumberValue:
		d.scratch = it.SkipAndAppendBytes(d.scratch[:0])
		if it.Error != nil || len(d.scratch) == 0 {
			return 0, false
		}
		if v, ok := exactDecimal(d.scratch); ok {
			return v, true
		}
		// ParseFloat keeps its argument only in its error, which is not returned.
		v, err := strconv.ParseFloat(unsafe.String(&d.scratch[0], len(d.scratch)), 64)
		if err != nil {
			it.ReportError("number", "not a number")
			return 0, false
		}
		return v, true
	default:
		it.ReportError("number", "expected a number or null")
		return 0, false
	}
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// exactDecimal converts the JSON numbers the collector writes most (Unix times, rrdtool's values of
// 10 to 15 significant digits) without strconv's general machinery: when the digits form an integer
// m < 2^53 and the decimal exponent k is within ±22, m and 10^|k| are exact float64s and one IEEE
// multiply or divide is correctly rounded (Clinger's fast path), so the result has the same bits as
// strconv.ParseFloat. Anything else answers ok=false and goes to strconv.
func exactDecimal(b []byte) (float64, bool) {
	i, neg := 0, false
	if i < len(b) && b[i] == '-' {
		neg, i = true, i+1
	}
	var m uint64
	digits, exp10 := 0, 0
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if m != 0 || b[i] != '0' {
			digits++
		}
		m = m*10 + uint64(b[i]-'0')
		if digits > 16 {
			return 0, false
		}
	}
	if i == start {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		fstart := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if m != 0 || b[i] != '0' {
				digits++
			}
			m = m*10 + uint64(b[i]-'0')
			exp10--
			if digits > 16 {
				return 0, false
			}
		}
		if i == fstart {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg, i = b[i] == '-', i+1
		}
		e, estart := 0, i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if e > 1000 {
				return 0, false
			}
			e = e*10 + int(b[i]-'0')
		}
		if i == estart {
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp10 += e
	}
	if i != len(b) || m >= 1<<53 {
		return 0, false
	}
	f := float64(m)
	switch {
	case exp10 == 0:
	case exp10 > 0 && exp10 <= 22:
		f *= pow10[exp10]
	case exp10 < 0 && exp10 >= -22:
		f /= pow10[-exp10]
	default:
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}
