package plugin

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// queryBinaryType is the range query's answer as float64 columns (collector/src/api/query-binary.ts):
// asked for by Accept, so the plugin neither receives nor parses ~30 characters of JSON per point.
const queryBinaryType = "application/vnd.rexmon.query+binary"

// queryAccept asks for the columns, JSON from a collector that has none.
const queryAccept = queryBinaryType + ", application/json;q=0.5"

const queryBinaryMagic = "RXQUERY1"

type binarySeries struct {
	Name     string            `json:"name"`
	Labels   map[string]string `json:"labels"`
	Downtime *seriesDowntime   `json:"downtime"`
	Rows     int               `json:"rows"`
	Start    *float64          `json:"start"`
	Interval *float64          `json:"interval"`
}

type binaryHeader struct {
	From   float64        `json:"from"`
	To     float64        `json:"to"`
	Step   float64        `json:"step"`
	CF     string         `json:"cf"`
	Series []binarySeries `json:"series"`
}

// parseQueryBinary decodes the columns answer into out. A body that does not add up (wrong magic,
// header or columns cut short, bytes left over) is an error that says where.
func parseQueryBinary(b []byte, out *collectorQueryResult) error {
	if len(b) < len(queryBinaryMagic)+4 || string(b[:len(queryBinaryMagic)]) != queryBinaryMagic {
		return fmt.Errorf("not a %s answer (no %q at its start)", queryBinaryType, queryBinaryMagic)
	}
	hlen := int(binary.LittleEndian.Uint32(b[len(queryBinaryMagic):]))
	hstart := len(queryBinaryMagic) + 4
	if hlen > len(b)-hstart {
		return fmt.Errorf("the header says %d bytes but %d follow", hlen, len(b)-hstart)
	}
	var h binaryHeader
	if err := json.Unmarshal(b[hstart:hstart+hlen], &h); err != nil {
		return fmt.Errorf("the header: %w", err)
	}
	at := (hstart + hlen + 7) / 8 * 8
	need := 0
	for i, s := range h.Series {
		if s.Rows < 0 {
			return fmt.Errorf("series %d: rows %d", i, s.Rows)
		}
		need += s.Rows
		if s.Start == nil || s.Interval == nil {
			need += s.Rows
		}
	}
	if have := len(b) - at; have < 0 || have != need*8 {
		return fmt.Errorf("the header announces %d float64 but the columns hold %d bytes", need, max(have, 0))
	}
	out.From, out.To, out.Step, out.CF = h.From, h.To, h.Step, h.CF
	out.Series = make([]collectorSeries, len(h.Series))
	next := func() float64 {
		v := math.Float64frombits(binary.LittleEndian.Uint64(b[at:]))
		at += 8
		return v
	}
	// Series on the same rows share one times slice.
	type grid struct {
		start, interval float64
		rows            int
	}
	grids := map[grid][]float64{}
	for i, s := range h.Series {
		var ts []float64
		if s.Start != nil && s.Interval != nil {
			g := grid{*s.Start, *s.Interval, s.Rows}
			if ts = grids[g]; ts == nil {
				ts = make([]float64, s.Rows)
				for j := range ts {
					ts[j] = g.start + float64(j)*g.interval
				}
				grids[g] = ts
			}
		} else {
			ts = make([]float64, s.Rows)
			for j := range ts {
				ts[j] = next()
			}
		}
		// The known values share one slab; NaN (unknown) is nil, as null is in the JSON answer.
		slab := make([]float64, s.Rows)
		vs := make([]*float64, s.Rows)
		for j := range vs {
			if v := next(); !math.IsNaN(v) {
				slab[j] = v
				vs[j] = &slab[j]
			}
		}
		out.Series[i] = collectorSeries{Name: s.Name, Labels: s.Labels, Timestamps: ts, Values: vs, Downtime: s.Downtime}
	}
	return nil
}
