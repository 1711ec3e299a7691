package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unsafe"
)

// Fast decoding of /api/v1/query's number arrays: most of an answer is timestamps and values,
// and encoding/json's reflection (one allocation per nullable value) was most of the plugin's
// time. These parse the array's bytes directly, one allocation per array.

// floats is a JSON array of numbers.
type floats []float64

// nullFloats is a JSON array of numbers and nulls; the known values share one backing array.
type nullFloats []*float64

func (f *floats) UnmarshalJSON(b []byte) error {
	out := make([]float64, 0, bytes.Count(b, []byte{','})+1)
	err := eachNumber(b, func(v float64, null bool) error {
		if null {
			return fmt.Errorf("null in an array of numbers")
		}
		out = append(out, v)
		return nil
	})
	*f = out
	return err
}

func (f *nullFloats) UnmarshalJSON(b []byte) error {
	n := bytes.Count(b, []byte{','}) + 1
	slab := make([]float64, 0, n)
	out := make([]*float64, 0, n)
	err := eachNumber(b, func(v float64, null bool) error {
		if null {
			out = append(out, nil)
			return nil
		}
		slab = append(slab, v)
		out = append(out, &slab[len(slab)-1])
		return nil
	})
	*f = out
	return err
}

// eachNumber calls fn for each element of the JSON array b (numbers or null).
func eachNumber(b []byte, fn func(v float64, null bool) error) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return fmt.Errorf("expected an array of numbers, got %.40q", b)
	}
	b = b[1 : len(b)-1]
	for i := 0; i < len(b); {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i == len(b) {
			break
		}
		j := i
		for j < len(b) && b[j] != ',' {
			j++
		}
		tok := bytes.TrimSpace(b[i:j])
		if len(tok) == 4 && string(tok) == "null" {
			if err := fn(0, true); err != nil {
				return err
			}
		} else {
			if len(tok) == 0 {
				return fmt.Errorf("empty element in an array of numbers")
			}
			// ParseFloat keeps its argument only in its error, which is not returned as is.
			v, err := strconv.ParseFloat(unsafe.String(&tok[0], len(tok)), 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", string(tok))
			}
			if err := fn(v, false); err != nil {
				return err
			}
		}
		i = j + 1
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// decodeEnvelope reads {"data": …, other members…} from r in one pass: "data" into out (nil:
// skipped), the other members into meta (nil: skipped). It reports whether "data" was there.
func decodeEnvelope(r io.Reader, out, meta any) (bool, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil {
		return false, err
	} else if d, ok := t.(json.Delim); !ok || d != '{' {
		return false, fmt.Errorf("expected a JSON object, got %v", t)
	}
	seen := false
	rest := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return seen, err
		}
		key, _ := t.(string)
		switch {
		case key == "data" && out != nil:
			seen = true
			if err := dec.Decode(out); err != nil {
				return seen, fmt.Errorf("data: %w", err)
			}
		default:
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return seen, err
			}
			if key == "data" {
				seen = true
			} else if meta != nil {
				rest[key] = raw
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return seen, err
	}
	if meta != nil && len(rest) > 0 {
		b, _ := json.Marshal(rest)
		if err := json.Unmarshal(b, meta); err != nil {
			return seen, err
		}
	}
	return seen, nil
}
