package plugin

import (
	"encoding/json"
	"fmt"
	"io"
)

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
