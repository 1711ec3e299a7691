package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unsafe"
)

// A one-pass parser for /api/v1/query's answer, {"data": {"from", "to", "step", "cf",
// "series": [{"name", "labels", "timestamps", "values"}]}}, straight into the columns the frames
// use. encoding/json scanned the answer two or three times (its Decoder's read, then each
// value's skip) and allocated per value; this reads each byte once. Anything it does not expect
// makes it fail, and the caller then decodes with encoding/json.

var errShape = errors.New("unexpected JSON shape")

type jparser struct {
	b []byte
	i int
}

func (p *jparser) ws() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

func (p *jparser) eat(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a JSON string; escapes go through encoding/json.
func (p *jparser) str() (string, error) {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", errShape
	}
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			escaped = true
			p.i += 2
			continue
		case '"':
			p.i++
			if !escaped {
				return string(p.b[start+1 : p.i-1]), nil
			}
			var s string
			err := json.Unmarshal(p.b[start:p.i], &s)
			return s, err
		}
		p.i++
	}
	return "", errShape
}

// num reads a JSON number, or null (ok false).
func (p *jparser) num() (v float64, ok bool, err error) {
	p.ws()
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return 0, false, nil
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.i++
			continue
		}
		break
	}
	if p.i == start {
		return 0, false, errShape
	}
	tok := p.b[start:p.i]
	if v, ok := exactFloat(tok); ok {
		return v, true, nil
	}
	v, err = strconv.ParseFloat(unsafe.String(&tok[0], len(tok)), 64)
	if err != nil {
		return 0, false, errShape
	}
	return v, true, nil
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// exactFloat parses a decimal of at most 15 significant digits with a power of ten within
// ±22 (what the collector sends: rrdtool's 11 digits, Unix seconds) as one exact multiply or
// divide, which IEEE rounds correctly: the same float64 as strconv.ParseFloat. Else ok false.
func exactFloat(tok []byte) (float64, bool) {
	i, neg := 0, false
	if len(tok) > 0 && tok[0] == '-' {
		neg, i = true, 1
	}
	var m uint64
	digits, exp := 0, 0
	sawDigit := false
	for ; i < len(tok) && tok[i] >= '0' && tok[i] <= '9'; i++ {
		sawDigit = true
		if m == 0 && tok[i] == '0' {
			continue
		}
		m = m*10 + uint64(tok[i]-'0')
		digits++
	}
	if i < len(tok) && tok[i] == '.' {
		for i++; i < len(tok) && tok[i] >= '0' && tok[i] <= '9'; i++ {
			sawDigit = true
			exp--
			if m == 0 && tok[i] == '0' {
				continue
			}
			m = m*10 + uint64(tok[i]-'0')
			digits++
		}
	}
	if !sawDigit || digits > 15 {
		return 0, false
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		eneg := false
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			eneg = tok[i] == '-'
			i++
		}
		e, n := 0, 0
		for ; i < len(tok) && tok[i] >= '0' && tok[i] <= '9' && n < 4; i++ {
			e, n = e*10+int(tok[i]-'0'), n+1
		}
		if n == 0 {
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != len(tok) || exp < -22 || exp > 22 {
		return 0, false
	}
	v := float64(m)
	if exp >= 0 {
		v *= pow10[exp]
	} else {
		v /= pow10[-exp]
	}
	if neg {
		v = -v
	}
	return v, true
}

// object calls field for each key; field must consume the value.
func (p *jparser) object(field func(key string) error) error {
	if !p.eat('{') {
		return errShape
	}
	if p.eat('}') {
		return nil
	}
	for {
		k, err := p.str()
		if err != nil || !p.eat(':') {
			return errShape
		}
		if err := field(k); err != nil {
			return err
		}
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return nil
		}
		return errShape
	}
}

// array calls elem for each element; elem must consume it.
func (p *jparser) array(elem func() error) error {
	if !p.eat('[') {
		return errShape
	}
	if p.eat(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			return nil
		}
		return errShape
	}
}

// skip consumes any JSON value.
func (p *jparser) skip() error {
	p.ws()
	if p.i >= len(p.b) {
		return errShape
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(func(string) error { return p.skip() })
	case c == '[':
		return p.array(p.skip)
	case c == '"':
		_, err := p.str()
		return err
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
	default:
		_, _, err := p.num()
		return err
	}
	return nil
}

// parseQueryAnswer fills out from a whole /api/v1/query answer; it reports whether "data" was there.
func parseQueryAnswer(b []byte, out *collectorQueryResult) (bool, error) {
	p := &jparser{b: b}
	seen := false
	err := p.object(func(k string) error {
		if k != "data" {
			return p.skip()
		}
		seen = true
		return p.object(func(k string) error {
			var err error
			switch k {
			case "from", "to", "step":
				var v float64
				v, _, err = p.num()
				switch k {
				case "from":
					out.From = v
				case "to":
					out.To = v
				default:
					out.Step = v
				}
			case "cf":
				out.CF, err = p.str()
			case "series":
				err = p.array(func() error {
					var s collectorSeries
					if err := p.series(&s); err != nil {
						return err
					}
					out.Series = append(out.Series, s)
					return nil
				})
			default:
				err = p.skip()
			}
			return err
		})
	})
	if err == nil {
		p.ws()
		if p.i != len(p.b) {
			err = errShape
		}
	}
	return seen, err
}

func (p *jparser) series(s *collectorSeries) error {
	return p.object(func(k string) error {
		switch k {
		case "name":
			var err error
			s.Name, err = p.str()
			return err
		case "labels":
			s.Labels = map[string]string{}
			return p.object(func(k string) error {
				v, err := p.str()
				s.Labels[k] = v
				return err
			})
		case "timestamps":
			ts := make([]float64, 0, 1024)
			err := p.array(func() error {
				v, ok, err := p.num()
				if !ok && err == nil {
					err = errShape
				}
				ts = append(ts, v)
				return err
			})
			s.Timestamps = ts
			return err
		case "values":
			slab := make([]float64, 0, max(len(s.Timestamps), 16))
			vs := make([]*float64, 0, cap(slab))
			err := p.array(func() error {
				v, ok, err := p.num()
				if !ok {
					vs = append(vs, nil)
					return err
				}
				if len(slab) == cap(slab) { // more values than timestamps: a new slab
					slab = make([]float64, 0, cap(slab)*2)
				}
				slab = append(slab, v)
				vs = append(vs, &slab[len(slab)-1])
				return err
			})
			s.Values = vs
			return err
		default:
			return p.skip()
		}
	})
}
