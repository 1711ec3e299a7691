package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Colours of downtime regions: planned in blue, unplanned in red.
const (
	colorPlanned   = "#5794F2"
	colorUnplanned = "#F2495C"
)

type collectorAnnotation struct {
	ID      json.RawMessage `json:"id"`
	Time    *float64        `json:"time"`
	TimeEnd *float64        `json:"timeEnd"`
	Title   string          `json:"title"`
	Text    string          `json:"text"`
	Tags    []string        `json:"tags"`
}

type collectorEvent struct {
	Time   *float64       `json:"time"`
	Type   string         `json:"type"`
	Source string         `json:"source"`
	Data   map[string]any `json:"data"`
}

// annotationParams are from/to (ms) and the optional matcher of an annotation query.
func annotationParams(q backend.DataQuery, qm QueryModel) (url.Values, error) {
	sel, err := selectorOf(qm)
	if err != nil {
		return nil, err
	}
	p := url.Values{}
	p.Set("from", strconv.FormatInt(q.TimeRange.From.UnixMilli(), 10))
	p.Set("to", strconv.FormatInt(q.TimeRange.To.UnixMilli(), 10))
	if sel != "" {
		p.Set("match", sel)
	}
	return p, nil
}

func notServed(endpoint, what string) backend.DataResponse {
	return backend.ErrDataResponseWithSource(backend.StatusNotFound, backend.ErrorSourceDownstream,
		fmt.Sprintf("this collector does not serve %s (%s answered 404): upgrade the collector to a version with %s", what, endpoint, what))
}

// downtimes answers queryType "downtimes": one region annotation per downtime.
func (d *Datasource) downtimes(ctx context.Context, q backend.DataQuery, qm QueryModel, extra http.Header) backend.DataResponse {
	kind := strings.ToLower(strings.TrimSpace(qm.Kind))
	switch kind {
	case "", "all":
		kind = ""
	case "planned", "unplanned":
	default:
		return badRequest(fmt.Sprintf("downtime kind %q is not one of planned, unplanned (or empty for both)", qm.Kind))
	}
	format, err := downtimeFormat(qm)
	if err != nil {
		return badRequest(err.Error())
	}
	if format == FormatTable {
		return d.downtimeTable(ctx, q, qm, kind, extra)
	}
	var anns []collectorAnnotation
	if r := d.fetchAnnotations(ctx, q, qm, extra, "/api/v1/annotations", "downtime annotations", "kind", kind, &anns); r != nil {
		return *r
	}
	return backend.DataResponse{Frames: data.Frames{DowntimeFrame(q.RefID, anns, q.TimeRange.To)}}
}

// fetchAnnotations GETs endpoint with the query's range and matcher (plus key=value when
// value is set) into out; it gives the error response, or nil on success.
func (d *Datasource) fetchAnnotations(ctx context.Context, q backend.DataQuery, qm QueryModel, extra http.Header,
	endpoint, what, key, value string, out any) *backend.DataResponse {
	p, err := annotationParams(q, qm)
	if err != nil {
		r := badRequest(err.Error())
		return &r
	}
	if value != "" {
		p.Set(key, value)
	}
	if err := d.client.Get(ctx, endpoint, p, extra, out); err != nil {
		r := errorResponse(err)
		if IsNotFound(err) {
			r = notServed(endpoint, what)
		}
		return &r
	}
	return nil
}

// DowntimeFrame makes the annotation frame: time, timeEnd, title, text, tags (comma-separated), id, color.
// A downtime still running (no end) is drawn up to rangeEnd.
func DowntimeFrame(refID string, anns []collectorAnnotation, rangeEnd time.Time) *data.Frame {
	sort.SliceStable(anns, func(i, j int) bool { return ms(anns[i].Time) < ms(anns[j].Time) })
	var (
		times, ends              []time.Time
		titles, texts, tags, ids []string
		colors                   []string
	)
	for _, a := range anns {
		if a.Time == nil {
			continue
		}
		start := time.UnixMilli(int64(*a.Time)).UTC()
		end := rangeEnd.UTC()
		if a.TimeEnd != nil && *a.TimeEnd > 0 {
			end = time.UnixMilli(int64(*a.TimeEnd)).UTC()
		}
		if end.Before(start) {
			end = start
		}
		color := colorPlanned
		for _, t := range a.Tags {
			if t == "unplanned" {
				color = colorUnplanned
			}
		}
		times, ends = append(times, start), append(ends, end)
		titles, texts = append(titles, a.Title), append(texts, a.Text)
		tags, ids = append(tags, strings.Join(a.Tags, ",")), append(ids, rawString(a.ID))
		colors = append(colors, color)
	}
	f := data.NewFrame("downtimes",
		data.NewField("time", nil, times),
		data.NewField("timeEnd", nil, ends),
		data.NewField("title", nil, titles),
		data.NewField("text", nil, texts),
		data.NewField("tags", nil, tags),
		data.NewField("id", nil, ids),
		data.NewField("color", nil, colors),
	)
	f.RefID = refID
	return f
}

// events answers queryType "events": one point annotation per event.
func (d *Datasource) events(ctx context.Context, q backend.DataQuery, qm QueryModel, extra http.Header) backend.DataResponse {
	limit := maxEvents
	if t := strings.TrimSpace(string(qm.Limit)); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > maxEvents {
			return badRequest(fmt.Sprintf("event limit %q must be a whole number from 1 to %d", t, maxEvents))
		}
		limit = n
	}
	p, err := annotationParams(q, qm)
	if err != nil {
		return badRequest(err.Error())
	}
	if t := strings.TrimSpace(qm.EventType); t != "" {
		p.Set("type", t)
	}
	p.Set("limit", strconv.Itoa(limit))
	var evs []collectorEvent
	var meta struct {
		Truncated bool `json:"truncated"`
		Total     int  `json:"total"`
	}
	if err := d.client.GetWithMeta(ctx, "/api/v1/events", p, extra, &evs, &meta); err != nil {
		if IsNotFound(err) {
			return notServed("/api/v1/events", "events")
		}
		return errorResponse(err)
	}
	f := EventFrame(q.RefID, evs)
	if meta.Truncated {
		f.AppendNotices(data.Notice{
			Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("%d of %d events shown: narrow the time range, the event type or the matcher, or raise the limit (at most %d)",
				len(evs), meta.Total, maxEvents),
		})
	}
	return backend.DataResponse{Frames: data.Frames{f}}
}

// maxEvents is the collector's most events per /api/v1/events answer, asked for by default.
const maxEvents = 10000

// EventFrame makes point annotations: time, title (event type), text (source and data), tags.
func EventFrame(refID string, evs []collectorEvent) *data.Frame {
	sort.SliceStable(evs, func(i, j int) bool { return ms(evs[i].Time) < ms(evs[j].Time) })
	var (
		times               []time.Time
		titles, texts, tags []string
	)
	for _, e := range evs {
		if e.Time == nil {
			continue
		}
		times = append(times, time.UnixMilli(int64(*e.Time)).UTC())
		titles = append(titles, e.Type)
		texts = append(texts, eventText(e))
		var tg []string
		for _, t := range []string{"event", e.Type, e.Source} {
			if t != "" {
				tg = append(tg, t)
			}
		}
		tags = append(tags, strings.Join(tg, ","))
	}
	f := data.NewFrame("events",
		data.NewField("time", nil, times),
		data.NewField("title", nil, titles),
		data.NewField("text", nil, texts),
		data.NewField("tags", nil, tags),
	)
	f.RefID = refID
	return f
}

// eventText renders "source: k=v, k2=v2" with keys sorted.
func eventText(e collectorEvent) string {
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := e.Data[k]
		var s string
		switch x := v.(type) {
		case string:
			s = x
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		parts = append(parts, k+"="+s)
	}
	text := strings.Join(parts, ", ")
	if e.Source != "" {
		if text == "" {
			return e.Source
		}
		return e.Source + ": " + text
	}
	return text
}

func ms(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// rawString gives a JSON id (string or number) as text.
func rawString(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}
