package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Query types. An empty queryType is a time series query (older panels, alert rules written by hand).
const (
	QueryTypeTimeSeries = "timeseries"
	QueryTypeDowntimes  = "downtimes"
	QueryTypeEvents     = "events"
)

// QueryModel is the JSON the frontend (and stored alert rules) send in each query.
type QueryModel struct {
	// EditorMode "builder" uses Metric and LabelFilters only; otherwise Expr wins when set.
	EditorMode string `json:"editorMode"`
	// Builder mode: a metric and label filters.
	Metric       string        `json:"metric"`
	LabelFilters []LabelFilter `json:"labelFilters"`
	// Code mode: a selector such as cpu_usage{host=~"fnpc.*"}; for annotations, the matcher.
	Expr string `json:"expr"`
	// Consolidation function of the RRD archive: AVERAGE (default), MIN, MAX, LAST.
	CF string `json:"cf"`
	// Aggregation across series: "", sum, avg, min, max, count; grouped by By.
	Agg string   `json:"agg"`
	By  []string `json:"by"`
	// Fn is applied per series by the collector before Agg: "", rate (per second; a counter reset
	// gives null) or delta (change between rows). In code mode rate(<selector>) means the same.
	Fn string `json:"fn"`
	// LegendFormat such as "{{host}} {{state}}".
	LegendFormat string `json:"legendFormat"`
	// MarkDowntime: a series a downtime runs over now is drawn in the downtime's colour (planned
	// blue, unplanned orange) with "in downtime" in its name, whatever the panel's thresholds say.
	MarkDowntime bool `json:"markDowntime"`
	// Step is the minimum step: seconds ("60") or a duration ("5m", "1h", "1d").
	Step flexString `json:"step"`
	// Annotations: downtime kind ("", planned, unplanned) and event type filter.
	Kind      string `json:"kind"`
	EventType string `json:"eventType"`
	// Format of a downtimes query: "" or "annotations" (regions), "table" (one table frame).
	Format string `json:"format"`
	// Limit is how many events an annotation query asks for (default and maximum: maxEvents).
	Limit flexString `json:"limit"`
}

// flexString takes a JSON string or number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("expected a string or a number, got %s", string(b))
	}
	*f = flexString(n.String())
	return nil
}

// The range of maxDataPoints the collector's /api/v1/query accepts.
const (
	minDataPoints = 2
	maxDataPoints = 100000
)

var validCF = map[string]bool{"AVERAGE": true, "MIN": true, "MAX": true, "LAST": true}
var validAgg = map[string]bool{"sum": true, "avg": true, "min": true, "max": true, "count": true}

// ParseStep reads "60", "60s", "5m", "1h", "1d", "1w", "1y", "15000ms" into seconds (what Grafana's
// $__interval, $__range, $__range_s and ${__interval_ms}ms become). Empty is 0 (automatic).
func ParseStep(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "auto" {
		return 0, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, fmt.Errorf("step %q must be a positive number of seconds", s)
		}
		return n, nil
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "d"):
		mult, s = 86400, strings.TrimSuffix(s, "d")+"s"
	case strings.HasSuffix(s, "w"):
		mult, s = 7*86400, strings.TrimSuffix(s, "w")+"s"
	case strings.HasSuffix(s, "y"): // Grafana's $__interval over years
		mult, s = 365*86400, strings.TrimSuffix(s, "y")+"s"
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("step %q is not a duration: use seconds (60) or 30s, 5m, 1h, 1d", s)
	}
	return d.Seconds() * mult, nil
}

// collectorQueryResult is /api/v1/query's data.
type collectorQueryResult struct {
	From   float64           `json:"from"`
	To     float64           `json:"to"`
	Step   float64           `json:"step"`
	CF     string            `json:"cf"`
	Series []collectorSeries `json:"series"`
}

type collectorSeries struct {
	Name       string            `json:"name"`
	Labels     map[string]string `json:"labels"`
	Timestamps []float64         `json:"timestamps"`
	Values     []*float64        `json:"values"`
	Downtime   *seriesDowntime   `json:"downtime,omitempty"`
}

// seriesDowntime is the downtime running over a series now (/query?downtimes=true).
type seriesDowntime struct {
	ID     int64    `json:"id"`
	Kind   string   `json:"kind"`
	Author string   `json:"author"`
	Reason string   `json:"reason"`
	End    *float64 `json:"end"`
}

// Downtime colours: the ones the dashboards shade planned and unplanned regions with.
const (
	plannedColor   = "blue"
	unplannedColor = "orange"
)

// QueryData runs each query against the collector.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	extra := forwardedHeaders(req.Headers)
	fromAlert := isFromAlert(req.Headers)
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q, extra, fromAlert)
	}
	return resp, nil
}

// isFromAlert reads Grafana's FromAlert header (the key's case varies).
func isFromAlert(h map[string]string) bool {
	for k, v := range h {
		if strings.EqualFold(k, backend.FromAlertHeaderName) && strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}

// forwardedHeaders are passed on to the collector: FromAlert, so it can tell alert queries apart.
func forwardedHeaders(h map[string]string) http.Header {
	out := http.Header{}
	for k, v := range h {
		if strings.EqualFold(k, backend.FromAlertHeaderName) {
			out.Set(backend.FromAlertHeaderName, v)
		}
	}
	return out
}

func (d *Datasource) query(ctx context.Context, q backend.DataQuery, extra http.Header, fromAlert bool) backend.DataResponse {
	if d.settingsErr != nil {
		return badRequest(d.settingsErr.Error())
	}
	var qm QueryModel
	if len(q.JSON) > 0 {
		if err := json.Unmarshal(q.JSON, &qm); err != nil {
			return badRequest(fmt.Sprintf("query %s is not valid: %v", q.RefID, err))
		}
	}
	switch q.QueryType {
	case "", QueryTypeTimeSeries:
		return d.timeSeries(ctx, q, qm, extra, fromAlert)
	case QueryTypeDowntimes:
		return d.downtimes(ctx, q, qm, extra)
	case QueryTypeEvents:
		return d.events(ctx, q, qm, extra)
	default:
		return badRequest(fmt.Sprintf("unknown queryType %q: use %q, %q or %q", q.QueryType, QueryTypeTimeSeries, QueryTypeDowntimes, QueryTypeEvents))
	}
}

// badRequest is the per-query error for a query or datasource settings Grafana sent that the
// plugin cannot run. The rule for error sources: what the request (the user's query or
// settings) or the collector causes is downstream, including a collector that cannot be
// reached (see errorResponse); ErrorSourcePlugin would mean a bug of the plugin itself.
func badRequest(msg string) backend.DataResponse {
	return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, msg)
}

// selectorOf gives the query's selector: Expr (code mode, annotation matchers), else the builder fields.
func selectorOf(qm QueryModel) (string, error) {
	if qm.EditorMode != "builder" && strings.TrimSpace(qm.Expr) != "" {
		return NormalizeSelector(qm.Expr), nil
	}
	return BuildSelector(qm.Metric, qm.LabelFilters)
}

var validFn = map[string]bool{"rate": true, "delta": true}

// functionRe finds a function written around a code-mode selector: rate(…), delta(…).
var functionRe = regexp.MustCompile(`^\s*([A-Za-z_]\w*)\s*\(`)

// splitFunction reads `rate(<selector>)` / `delta(<selector>)`: the function and the selector
// inside. Text without a function is the selector itself (fn "").
func splitFunction(expr string) (fn, inner string, err error) {
	m := functionRe.FindStringSubmatch(expr)
	if m == nil {
		return "", expr, nil
	}
	name := strings.ToLower(m[1])
	if !validFn[name] {
		return "", "", fmt.Errorf("fn: %s(…) is not a function rexmon knows: use rate(<selector>) or delta(<selector>)", m[1])
	}
	rest := strings.TrimSpace(expr[len(m[0]):])
	if closing := closingParen(rest); closing < 0 || closing != len(rest)-1 {
		return "", "", fmt.Errorf("fn: %s( is not closed (or has text after its ')'): write %s(<selector>), e.g. %s(jobs_done_total{host=\"a\"})", m[1], name, name)
	}
	inner = strings.TrimSpace(strings.TrimSuffix(rest, ")"))
	if inner == "" {
		return "", "", fmt.Errorf("fn: %s() needs a selector inside, e.g. %s(jobs_done_total{host=\"a\"})", name, name)
	}
	return name, inner, nil
}

// closingParen gives the index of the ')' closing an already open '(' in s, skipping quoted
// label values ("…", '…' with backslash escapes, `…`); -1 if there is none.
func closingParen(s string) int {
	depth := 1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'', '`':
			for i++; i < len(s) && s[i] != c; i++ {
				if s[i] == '\\' && c != '`' {
					i++
				}
			}
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// timeSeriesSelector is selectorOf for a time series query, with its function: Fn, or the one
// written around a code-mode selector (both given must agree).
func timeSeriesSelector(qm QueryModel) (sel, fn string, err error) {
	fn = strings.ToLower(strings.TrimSpace(qm.Fn))
	if fn == "none" {
		fn = ""
	}
	if fn != "" && !validFn[fn] {
		return "", "", fmt.Errorf("fn %q is not one of rate, delta (or empty)", qm.Fn)
	}
	if qm.EditorMode != "builder" && strings.TrimSpace(qm.Expr) != "" {
		wrapped, inner, err := splitFunction(qm.Expr)
		if err != nil {
			return "", "", err
		}
		if wrapped != "" && fn != "" && wrapped != fn {
			return "", "", fmt.Errorf("fn: the selector says %s(…) but fn is %q: keep one", wrapped, qm.Fn)
		}
		if wrapped != "" {
			fn = wrapped
		}
		return NormalizeSelector(inner), fn, nil
	}
	sel, err = BuildSelector(qm.Metric, qm.LabelFilters)
	return sel, fn, err
}

// dashboardVariableRe finds what Grafana's template service replaces: $name, ${name[:format]},
// [[name[:format]]]. A `$` after a backslash (an escaped dollar in a regex) does not count.
var dashboardVariableRe = regexp.MustCompile(`(?:^|[^\\])(\$(?:[A-Za-z_]\w*|\{\w+(?::[^}]*)?\})|\[\[\w+(?::[^\]]*)?\]\])`)

// checkNoDashboardVariables refuses, for alert rules, a query that still holds a dashboard
// variable: Grafana evaluates rules without a dashboard, so the variable would reach the
// collector as literal text and the rule would silently see no data.
func checkNoDashboardVariables(qm QueryModel) error {
	type field struct{ what, text string }
	// The fields selectorOf reads: Expr in code mode, else the metric and the filter values.
	fields := []field{{"selector", qm.Expr}}
	if qm.EditorMode == "builder" || strings.TrimSpace(qm.Expr) == "" {
		fields = []field{{"metric", qm.Metric}}
		for i, f := range qm.LabelFilters {
			fields = append(fields, field{fmt.Sprintf("label filter %d (%s)", i+1, f.Label), f.Value})
		}
	}
	for _, f := range fields {
		if m := dashboardVariableRe.FindStringSubmatch(f.text); m != nil {
			return fmt.Errorf("the %s %q uses the dashboard variable %s, but dashboard variables do not exist in alert rules: "+
				"write the value itself (a regex such as host=~\"fnpc.*\" selects several)", f.what, f.text, m[1])
		}
	}
	return nil
}

// queryParams validates a time series query and makes /api/v1/query's parameters. An alert
// rule's query (fromAlert) may not use dashboard variables.
func queryParams(q backend.DataQuery, qm QueryModel, fromAlert bool) (url.Values, error) {
	if fromAlert {
		if err := checkNoDashboardVariables(qm); err != nil {
			return nil, err
		}
	}
	sel, fn, err := timeSeriesSelector(qm)
	if err != nil {
		return nil, err
	}
	if sel == "" {
		return nil, errors.New("pick a metric (or write a selector such as cpu_usage{host=\"a\"})")
	}
	cf := strings.ToUpper(strings.TrimSpace(qm.CF))
	if cf == "" {
		cf = "AVERAGE"
	}
	if !validCF[cf] {
		return nil, fmt.Errorf("consolidation function %q is not one of AVERAGE, MIN, MAX, LAST", qm.CF)
	}
	p := url.Values{}
	p.Set("match", sel)
	p.Set("from", strconv.FormatInt(q.TimeRange.From.UnixMilli(), 10))
	p.Set("to", strconv.FormatInt(q.TimeRange.To.UnixMilli(), 10))
	p.Set("cf", cf)
	if qm.MarkDowntime && !fromAlert {
		p.Set("downtimes", "true")
	}
	if fn != "" {
		p.Set("fn", fn)
	}
	userStep, err := ParseStep(string(qm.Step))
	if err != nil {
		return nil, err
	}
	// The user's step is a minimum; Grafana's interval (range / max data points) may ask for more.
	step := math.Max(userStep, math.Round(q.Interval.Seconds()))
	if step < 1 {
		step = 1
	}
	p.Set("step", strconv.FormatFloat(step, 'f', -1, 64))
	if q.MaxDataPoints > 0 {
		// The collector takes 2 to 100000 (and refuses anything else with a 400).
		n := min(max(q.MaxDataPoints, minDataPoints), maxDataPoints)
		p.Set("maxDataPoints", strconv.FormatInt(n, 10))
	}
	agg := strings.ToLower(strings.TrimSpace(qm.Agg))
	if agg != "" && agg != "none" {
		if !validAgg[agg] {
			return nil, fmt.Errorf("aggregation %q is not one of sum, avg, min, max, count", qm.Agg)
		}
		p.Set("agg", agg)
		var by []string
		for _, l := range qm.By {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			if !labelNameRe.MatchString(l) {
				return nil, fmt.Errorf("aggregation: %q is not a valid label name", l)
			}
			by = append(by, l)
		}
		if len(by) > 0 {
			p.Set("by", strings.Join(by, ","))
		}
	}
	return p, nil
}

func (d *Datasource) timeSeries(ctx context.Context, q backend.DataQuery, qm QueryModel, extra http.Header, fromAlert bool) backend.DataResponse {
	params, err := queryParams(q, qm, fromAlert)
	if err != nil {
		return badRequest(err.Error())
	}
	var res collectorQueryResult
	if err := d.client.Post(ctx, "/api/v1/query", params, extra, &res); err != nil {
		return errorResponse(err)
	}
	executed := "/api/v1/query?" + params.Encode()
	return backend.DataResponse{Frames: SeriesFrames(q.RefID, res.Series, qm.LegendFormat, fromAlert, executed)}
}

// SeriesFrames turns collector series into Grafana's timeseries-multi frames: one frame per
// series, []time.Time ascending without duplicates, a nullable float64 value field carrying
// the series labels, the type on every frame. For alert queries (dropNulls) unknown points are
// left out, so reducers never see NaN; for dashboards inner gaps stay (drawn as gaps) and only
// trailing unknowns (the RRD's not yet complete last step) are trimmed.
func SeriesFrames(refID string, series []collectorSeries, legend string, dropNulls bool, executed string) data.Frames {
	names := map[string]bool{}
	for _, s := range series {
		names[s.Name] = true
	}
	// Label sets must be unique for alerting: when several metric names are in one answer,
	// the name becomes a label too.
	withName := len(names) > 1
	frames := make(data.Frames, 0, len(series))
	for _, s := range series {
		times, values := cleanPoints(s.Timestamps, s.Values, dropNulls)
		labels := data.Labels{}
		for k, v := range s.Labels {
			labels[k] = v
		}
		if withName {
			labels["__name__"] = s.Name
		}
		fieldName := s.Name
		if fieldName == "" {
			fieldName = data.TimeSeriesValueFieldName
		}
		valueField := data.NewField(fieldName, labels, values)
		if legend != "" {
			valueField.SetConfig(&data.FieldConfig{DisplayNameFromDS: FormatLegend(legend, s.Name, s.Labels)})
		}
		if s.Downtime != nil {
			markDowntime(valueField, s)
		}
		frame := data.NewFrame("", data.NewField(data.TimeSeriesTimeFieldName, nil, times), valueField)
		frame.RefID = refID
		frame.Meta = seriesMeta("")
		frames = append(frames, frame)
	}
	sort.SliceStable(frames, func(i, j int) bool {
		a, b := frames[i].Fields[1], frames[j].Fields[1]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Labels.String() < b.Labels.String()
	})
	if len(frames) == 0 {
		// "No data" in the multi format: one typed frame without fields.
		f := data.NewFrame("")
		f.RefID = refID
		f.Meta = seriesMeta("")
		frames = append(frames, f)
	}
	// The executed query once per response (Grafana's inspector reads the first frame), not per frame.
	frames[0].Meta.ExecutedQueryString = executed
	return frames
}

func seriesMeta(executed string) *data.FrameMeta {
	return &data.FrameMeta{
		Type:                data.FrameTypeTimeSeriesMulti,
		TypeVersion:         data.FrameTypeVersion{0, 1},
		ExecutedQueryString: executed,
	}
}

// cleanPoints sorts by time, keeps one point per timestamp (the last known one), never yields NaN.
func cleanPoints(ts []float64, vs []*float64, dropNulls bool) ([]time.Time, []*float64) {
	if t, v, ok := cleanSortedPoints(ts, vs, dropNulls); ok {
		return t, v
	}
	type pt struct {
		t int64 // ms
		v *float64
	}
	n := len(ts)
	if len(vs) < n {
		n = len(vs)
	}
	pts := make([]pt, 0, n)
	for i := 0; i < n; i++ {
		if math.IsNaN(ts[i]) || math.IsInf(ts[i], 0) {
			continue
		}
		v := vs[i]
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			v = nil
		}
		pts = append(pts, pt{t: int64(math.Round(ts[i] * 1000)), v: v})
	}
	if !sort.SliceIsSorted(pts, func(i, j int) bool { return pts[i].t < pts[j].t }) {
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].t < pts[j].t })
	}
	out := pts[:0]
	for _, p := range pts {
		if len(out) > 0 && out[len(out)-1].t == p.t {
			if p.v != nil {
				out[len(out)-1] = p
			}
			continue
		}
		out = append(out, p)
	}
	if dropNulls {
		kept := out[:0]
		for _, p := range out {
			if p.v != nil {
				kept = append(kept, p)
			}
		}
		out = kept
	} else {
		for len(out) > 0 && out[len(out)-1].v == nil {
			out = out[:len(out)-1]
		}
	}
	times := make([]time.Time, len(out))
	values := make([]*float64, len(out))
	for i, p := range out {
		times[i] = time.UnixMilli(p.t).UTC()
		values[i] = p.v
	}
	return times, values
}

// cleanSortedPoints is cleanPoints for what the collector sends (strictly ascending, finite
// times; no NaN values) without the intermediate copy and sort; ok false otherwise.
func cleanSortedPoints(ts []float64, vs []*float64, dropNulls bool) ([]time.Time, []*float64, bool) {
	n := min(len(ts), len(vs))
	last := int64(math.MinInt64)
	for i := 0; i < n; i++ {
		if math.IsNaN(ts[i]) || math.IsInf(ts[i], 0) {
			return nil, nil, false
		}
		if v := vs[i]; v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return nil, nil, false
		}
		t := int64(math.Round(ts[i] * 1000))
		if t <= last {
			return nil, nil, false
		}
		last = t
	}
	end := n
	if !dropNulls {
		for end > 0 && vs[end-1] == nil {
			end--
		}
		// Every point up to the last known one: the values as they are, the times converted.
		times := make([]time.Time, end)
		for i := range times {
			times[i] = time.UnixMilli(int64(math.Round(ts[i] * 1000))).UTC()
		}
		return times, vs[:end:end], true
	}
	known := 0
	for _, v := range vs[:n] {
		if v != nil {
			known++
		}
	}
	times := make([]time.Time, 0, known)
	values := make([]*float64, 0, known)
	for i := 0; i < n; i++ {
		if vs[i] == nil {
			continue
		}
		times = append(times, time.UnixMilli(int64(math.Round(ts[i]*1000))).UTC())
		values = append(values, vs[i])
	}
	return times, values, true
}

var legendRe = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// FormatLegend fills {{label}} from the series' labels; {{__name__}} is the metric name.
// A label the series does not have becomes empty.
func FormatLegend(format, name string, labels map[string]string) string {
	return legendRe.ReplaceAllStringFunc(format, func(m string) string {
		key := legendRe.FindStringSubmatch(m)[1]
		if key == "__name__" {
			return name
		}
		return labels[key]
	})
}

// errorResponse maps a collector error to a per-query error Grafana shows as is.
func errorResponse(err error) backend.DataResponse {
	var ae *APIError
	var ue *UnreachableError
	switch {
	case errors.As(err, &ae):
		status := backend.Status(ae.Status)
		if ae.Status >= 500 {
			status = backend.StatusBadGateway
		}
		return backend.ErrDataResponseWithSource(status, backend.ErrorSourceDownstream, ae.Error())
	case errors.As(err, &ue):
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, ue.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, "the collector did not answer in time: "+err.Error())
	case errors.Is(err, context.Canceled):
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, "query cancelled")
	default:
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, err.Error())
	}
}

// markDowntime gives a series in downtime a fixed colour and says so in its name. Grafana applies a
// panel's defaults (thresholds colouring) only where the field's own config is empty, so this wins
// over red; a panel override could still change it on purpose.
func markDowntime(f *data.Field, s collectorSeries) {
	if f.Config == nil {
		f.Config = &data.FieldConfig{}
	}
	name := f.Config.DisplayNameFromDS
	if name == "" {
		name = defaultDisplayName(s.Name, s.Labels)
	}
	color := plannedColor
	if s.Downtime.Kind == "unplanned" {
		color = unplannedColor
	}
	f.Config.DisplayNameFromDS = name + " (in downtime)"
	f.Config.Color = map[string]interface{}{"mode": "fixed", "fixedColor": color}
	f.Config.Description = fmt.Sprintf("%s downtime #%d by %s: %s", s.Downtime.Kind, s.Downtime.ID, s.Downtime.Author, s.Downtime.Reason)
}

// defaultDisplayName is what Grafana shows for a field without a legend: name{k="v", ...}.
func defaultDisplayName(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}
