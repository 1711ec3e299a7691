package plugin

import (
	"fmt"
	"regexp"
	"strings"
)

// LabelFilter is one matcher of the query builder: label op value.
type LabelFilter struct {
	Label string `json:"label"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

var (
	metricNameRe = regexp.MustCompile(`^[A-Za-z_:][A-Za-z0-9_:.-]*$`)
	labelNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// a bare matcher list such as `host=~"a.*", mode!="idle"` (no metric name, no braces)
	bareMatcherRe = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)`)
)

// quoteValue writes s as a double-quoted selector string the collector reads back unchanged.
func quoteValue(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// BuildSelector turns the builder fields into a Prometheus-style selector.
// An empty result means "every series".
func BuildSelector(metric string, filters []LabelFilter) (string, error) {
	metric = strings.TrimSpace(metric)
	var parts []string
	head := ""
	if metric != "" {
		if metricNameRe.MatchString(metric) {
			head = metric
		} else {
			parts = append(parts, "__name__="+quoteValue(metric))
		}
	}
	for i, f := range filters {
		label := strings.TrimSpace(f.Label)
		if label == "" {
			continue // an empty row of the editor
		}
		if !labelNameRe.MatchString(label) {
			return "", fmt.Errorf("label filter %d: %q is not a valid label name (letters, digits and _; not starting with a digit)", i+1, label)
		}
		op := f.Op
		if op == "" {
			op = "="
		}
		switch op {
		case "=", "!=", "=~", "!~":
		default:
			return "", fmt.Errorf("label filter %d: unknown operator %q (use =, !=, =~ or !~)", i+1, op)
		}
		parts = append(parts, label+op+quoteValue(f.Value))
	}
	if len(parts) == 0 {
		return head, nil
	}
	return head + "{" + strings.Join(parts, ", ") + "}", nil
}

// NormalizeSelector accepts what a person types: a full selector, `{...}`, or a bare
// matcher list like `host=~"fnpc.*"`, which it wraps in braces.
func NormalizeSelector(expr string) string {
	s := strings.TrimSpace(expr)
	if s == "" || strings.Contains(s, "{") {
		return s
	}
	if bareMatcherRe.MatchString(s) {
		return "{" + s + "}"
	}
	return s
}
