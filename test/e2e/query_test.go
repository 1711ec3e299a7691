package e2e

// Helpers shared by the dashboard and alert tests: template variables resolved as the plugin's
// frontend does it (All → every value, regex-escaped, as an alternation), and checks on frames.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

var varRef = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// regexEscape escapes what the plugin's escapeRegex escapes, then the quoted-string escapes.
func regexEscape(s string) string {
	s = regexp.MustCompile(`[\\^$.*+?()\[\]{}|/]`).ReplaceAllString(s, `\$0`)
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// interpolate replaces $var and ${var} by the variable's values as "(a|b)"; unknown names (Grafana's
// own $__interval and friends) are reported.
func interpolate(s string, vars map[string][]string) (string, []string) {
	var unknown []string
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		vals, ok := vars[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		esc := make([]string, len(vals))
		for i, v := range vals {
			esc[i] = regexEscape(v)
		}
		return "(" + strings.Join(esc, "|") + ")"
	})
	return out, unknown
}

// interpolateJSON applies interpolate to every string inside a query's JSON.
func interpolateJSON(v any, vars map[string][]string) (any, []string) {
	var unknown []string
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case string:
			s, u := interpolate(t, vars)
			unknown = append(unknown, u...)
			return s
		case map[string]any:
			out := map[string]any{}
			for k, val := range t {
				out[k] = walk(val)
			}
			return out
		case []any:
			out := make([]any, len(t))
			for i, val := range t {
				out[i] = walk(val)
			}
			return out
		}
		return x
	}
	return walk(v), unknown
}

// nonNullPoints counts the numeric values that are not null or NaN in the frames.
func nonNullPoints(frames data.Frames) int {
	n := 0
	for _, f := range frames {
		for _, fld := range f.Fields {
			if !fld.Type().Numeric() {
				continue
			}
			for i := 0; i < fld.Len(); i++ {
				v, ok := fld.ConcreteAt(i)
				if !ok {
					continue
				}
				if fv, err := toFloat(v); err == nil && fv == fv {
					n++
				}
			}
		}
	}
	return n
}

func toFloat(v any) (float64, error) {
	switch t := v.(type) {
	case float64:
		return t, nil
	case float32:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case int32:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// seriesLabels is the label set of every numeric field (one per series) in the frames.
func seriesLabels(frames data.Frames) []data.Labels {
	var out []data.Labels
	for _, f := range frames {
		for _, fld := range f.Fields {
			if fld.Type().Numeric() {
				out = append(out, fld.Labels)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func rowCount(frames data.Frames) int {
	n := 0
	for _, f := range frames {
		if r, err := f.RowLen(); err == nil {
			n += r
		}
	}
	return n
}

func respErr(r backend.DataResponse) error {
	if r.Error != nil {
		return fmt.Errorf("status %d: %v", r.Status, r.Error)
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// exprRefs are the refIds a server-side expression reads: $A in math, "expression": "A" in reduce/threshold.
func exprRefs(model map[string]any) []string {
	expr, _ := model["expression"].(string)
	if model["type"] != "math" {
		return []string{strings.TrimPrefix(expr, "$")}
	}
	var refs []string
	for _, m := range varRef.FindAllStringSubmatch(expr, -1) {
		refs = append(refs, m[1]+m[2])
	}
	return refs
}
