package plugin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Formats of the downtimes query type: annotation regions (the default) or one table.
const (
	FormatAnnotations = "annotations"
	FormatTable       = "table"
)

// downtimeTableHorizon is how far ahead a downtimes table looks at least: a panel over the
// last hour still lists next week's planned work.
const downtimeTableHorizon = 7 * 24 * time.Hour

type collectorOccurrence struct {
	Start float64  `json:"start"`
	End   *float64 `json:"end"`
}

// collectorDowntime is what GET /api/v1/downtimes gives per downtime (times in Unix seconds).
type collectorDowntime struct {
	ID      int64                `json:"id"`
	Kind    string               `json:"kind"`
	Match   string               `json:"match"`
	Start   float64              `json:"start"`
	End     *float64             `json:"end"`
	Author  string               `json:"author"`
	Reason  string               `json:"reason"`
	State   string               `json:"state"`
	Current *collectorOccurrence `json:"current"`
	Next    *collectorOccurrence `json:"next"`
}

// downtimeFormat reads the query's format: "" or annotations, or table.
func downtimeFormat(qm QueryModel) (string, error) {
	switch f := strings.ToLower(strings.TrimSpace(qm.Format)); f {
	case "", FormatAnnotations:
		return FormatAnnotations, nil
	case FormatTable:
		return FormatTable, nil
	default:
		return "", fmt.Errorf("format %q is not one of %s, %s", qm.Format, FormatAnnotations, FormatTable)
	}
}

// downtimeTable answers {"queryType":"downtimes","format":"table"}: one table frame of the
// downtimes active now or starting before the later of the range's end and now + 7 days.
func (d *Datasource) downtimeTable(ctx context.Context, q backend.DataQuery, qm QueryModel, kind string, extra http.Header) backend.DataResponse {
	sel, err := selectorOf(qm)
	if err != nil {
		return badRequest(err.Error())
	}
	p := url.Values{}
	p.Set("state", "active,scheduled")
	p.Set("limit", "100000")
	if kind != "" {
		p.Set("kind", kind)
	}
	if sel != "" {
		p.Set("match", sel)
	}
	var list []collectorDowntime
	if err := d.client.Get(ctx, "/api/v1/downtimes", p, extra, &list); err != nil {
		if IsNotFound(err) {
			return notServed("/api/v1/downtimes", "downtimes")
		}
		return errorResponse(err)
	}
	horizon := time.Now().Add(downtimeTableHorizon)
	if q.TimeRange.To.After(horizon) {
		horizon = q.TimeRange.To
	}
	return backend.DataResponse{Frames: data.Frames{DowntimeTableFrame(q.RefID, list, horizon)}}
}

// DowntimeTableFrame makes the table: id, kind, state, start, end (null: open-ended), author,
// reason, match; one row per downtime, by start. An active downtime shows its current
// occurrence, a scheduled one its next (a flexible one waiting for its trigger: its window);
// scheduled ones starting at or after horizon are left out.
func DowntimeTableFrame(refID string, list []collectorDowntime, horizon time.Time) *data.Frame {
	type row struct {
		d          collectorDowntime
		start, end float64
		open       bool
	}
	rows := make([]row, 0, len(list))
	for _, dt := range list {
		r := row{d: dt, start: dt.Start}
		end := dt.End
		switch {
		case dt.State == "active" && dt.Current != nil:
			r.start, end = dt.Current.Start, dt.Current.End
		case dt.State == "scheduled" && dt.Next != nil:
			r.start, end = dt.Next.Start, dt.Next.End
		}
		if end == nil {
			r.open = true
		} else {
			r.end = *end
		}
		switch dt.State {
		case "active":
		case "scheduled":
			if !time.UnixMilli(int64(r.start * 1000)).Before(horizon) {
				continue
			}
		default:
			continue // ended or cancelled: not what the table is about
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].start != rows[j].start {
			return rows[i].start < rows[j].start
		}
		return rows[i].d.ID < rows[j].d.ID
	})
	n := len(rows)
	ids := make([]int64, n)
	kinds, states, authors, reasons, matches := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	starts := make([]time.Time, n)
	ends := make([]*time.Time, n)
	for i, r := range rows {
		ids[i], kinds[i], states[i] = r.d.ID, r.d.Kind, r.d.State
		authors[i], reasons[i], matches[i] = r.d.Author, r.d.Reason, r.d.Match
		starts[i] = secondsTime(r.start)
		if !r.open {
			e := secondsTime(r.end)
			ends[i] = &e
		}
	}
	f := data.NewFrame("downtimes",
		data.NewField("id", nil, ids),
		data.NewField("kind", nil, kinds),
		data.NewField("state", nil, states),
		data.NewField("start", nil, starts),
		data.NewField("end", nil, ends),
		data.NewField("author", nil, authors),
		data.NewField("reason", nil, reasons),
		data.NewField("match", nil, matches),
	)
	f.RefID = refID
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}

func secondsTime(s float64) time.Time {
	return time.UnixMilli(int64(s*1000 + 0.5)).UTC()
}
