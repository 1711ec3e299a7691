package e2e

// Lab-shaped history, three hours at one minute, pushed through the collector's sample API:
//   hosts (the host slurper's series): fnpc3001, fnpc3002, stor01 reporting; fnpc3099 silent for the last hour
//     host_cpu_percent{mode} host_memory_bytes{state} host_load1|5|15 host_disk_bytes{mount,state}
//     host_network_bytes_per_second{device,direction}
//   data handling (the names README "Run with Grafana" documents), totals stored raw:
//     dh_transfer_bytes_total{service,experiment,direction} dh_queue_length{service,queue} dh_errors_total{service,kind}
//   the collector's own figures as its self-scrape stores them (job="rexmon"), for the hours before this run
// plus downtimes (planned and unplanned, on hosts and services, one upcoming) and data-handling events.

import (
	"fmt"
	"math"
	"net/url"
	"time"
)

type sample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
	Time   int64             `json:"time"`
}

const seedPoints = 180

var (
	liveHosts   = []string{"fnpc3001", "fnpc3002", "stor01"}
	silentHost  = "fnpc3099"
	dhServices  = []string{"enstore", "dcache", "sam"}
	seedHostSet = append(append([]string{}, liveHosts...), silentHost)
)

func l(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// seedSamples gives point i (0 = oldest) of every seeded series at time ts.
func seedSamples(i int, ts int64, lastHour bool) []sample {
	var out []sample
	add := func(name string, v float64, labels map[string]string) {
		out = append(out, sample{Name: name, Labels: labels, Value: v, Time: ts})
	}
	wave := math.Sin(float64(i) / 15)
	const gib = 1 << 30
	for hi, h := range seedHostSet {
		if h == silentHost && lastHour {
			continue // stopped reporting an hour ago
		}
		busy := 30 + 10*wave + float64(hi*5)
		for mode, v := range map[string]float64{"user": busy * 0.7, "system": busy * 0.2, "iowait": busy * 0.1, "idle": 100 - busy} {
			add("host_cpu_percent", v, l("host", h, "mode", mode))
		}
		used := (30 + 8*wave + float64(hi)) * gib
		add("host_memory_bytes", 64*gib, l("host", h, "state", "total"))
		add("host_memory_bytes", used, l("host", h, "state", "used"))
		add("host_memory_bytes", 64*gib-used, l("host", h, "state", "available"))
		load := 6 + 3*wave + float64(hi)
		add("host_load1", load+1, l("host", h))
		add("host_load5", load, l("host", h))
		add("host_load15", load-0.5, l("host", h))
		for _, m := range []struct {
			mount string
			total float64
			frac  float64
		}{{"/", 100 * gib, 0.4}, {"/data", 4000 * gib, 0.5}} {
			frac := m.frac
			if h == "stor01" && m.mount == "/data" {
				frac = 0.95 // nearly full: the disk rule has something to find
			}
			add("host_disk_bytes", m.total, l("host", h, "mount", m.mount, "state", "total"))
			add("host_disk_bytes", m.total*frac, l("host", h, "mount", m.mount, "state", "used"))
			add("host_disk_bytes", m.total*(1-frac), l("host", h, "mount", m.mount, "state", "free"))
		}
		add("host_network_bytes_per_second", 2e6+1e6*wave, l("host", h, "device", "eth0", "direction", "rx"))
		add("host_network_bytes_per_second", 1e6+5e5*wave, l("host", h, "device", "eth0", "direction", "tx"))
	}
	// Totals growing at a steady rate per second, whole numbers (rexmon_*_total are stored as DERIVE,
	// which takes integers only; dh_*_total are stored raw and read with fn=rate).
	total := func(ratePerSecond float64) float64 { return math.Round(1e6 + ratePerSecond*60*float64(i)) }
	for si, s := range dhServices {
		exps := []string{"nova", "minerva"}
		if s == "sam" {
			exps = []string{"dune"}
		}
		for ei, ex := range exps {
			add("dh_transfer_bytes_total", total(5e7*float64(si+1)+1e6*float64(ei)), l("service", s, "experiment", ex, "direction", "in"))
			add("dh_transfer_bytes_total", total(2e7*float64(si+1)), l("service", s, "experiment", ex, "direction", "out"))
		}
		add("dh_queue_length", 20+10*wave+float64(si*40), l("service", s, "queue", "restore"))
		add("dh_queue_length", 5+float64(si), l("service", s, "queue", "store"))
		errRate := 0.01
		if s == "dcache" {
			errRate = 0.5 // over the rule's 0.1/s
		}
		add("dh_errors_total", total(errRate), l("service", s, "kind", "transfer"))
	}
	job := func(kv ...string) map[string]string { return l(append([]string{"job", "rexmon"}, kv...)...) }
	add("rexmon_samples_received_total", total(120), job("source", "graphite"))
	add("rexmon_samples_received_total", total(30), job("source", "slurper"))
	add("rexmon_samples_written_total", total(150), job())
	add("rexmon_queue_depth", 10+5*wave, job("processor", "rrd"))
	add("rexmon_queue_depth", 1, job("processor", "events"))
	add("rexmon_samples_dropped_total", total(0.2), job("source", "graphite-udp", "reason", "queue_full"))
	add("rexmon_samples_rejected_total", total(0.05), job("reason", "out_of_order"))
	add("rexmon_slurper_runs_total", total(1.0/60), job("slurper", "host", "result", "ok"))
	add("rexmon_slurper_errors_total", total(1.0/60), job("slurper", "enstore", "kind", "exit_code"))
	add("rexmon_query_seconds_sum", total(0.02), job())
	add("rexmon_query_seconds_count", total(2), job())
	add("rexmon_downtime_target_up", 1, job("target", "grafana"))
	add("rexmon_downtime_silences", 2, job("target", "grafana", "state", "expected"))
	add("rexmon_downtime_silences", 2, job("target", "grafana", "state", "present"))
	return out
}

type downtimeIn struct {
	Kind   string `json:"kind"`
	Match  string `json:"match"`
	Start  int64  `json:"start"`
	End    int64  `json:"end"`
	Author string `json:"author"`
	Reason string `json:"reason"`
}

func (e *env) seed() error {
	now := time.Now().Unix()
	end := now - now%60 - 60
	start := end - (seedPoints-1)*60
	e.seedEnd = time.Unix(end, 0)
	h := int64(3600)
	var batch []sample
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var acc struct {
			Accepted int `json:"accepted"`
		}
		if err := e.col.api("POST", "/api/v1/samples", editorToken, batch, &acc); err != nil {
			return err
		}
		if acc.Accepted != len(batch) {
			return fmt.Errorf("the collector accepted %d of %d samples", acc.Accepted, len(batch))
		}
		batch = batch[:0]
		return nil
	}
	for i := 0; i < seedPoints; i++ {
		ts := start + int64(i)*60
		batch = append(batch, seedSamples(i, ts, ts > end-3600)...)
		if len(batch) >= 5000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	// Going on now and open-ended: a scope no rule instance carries (site), so the silence tests are undisturbed.
	if err := e.col.api("POST", "/api/v1/downtimes", editorToken, map[string]any{"kind": "unplanned", "match": `{site="fcc"}`,
		"start": end - h/2, "author": "e2e", "reason": "power cut in the FCC"}, nil); err != nil {
		return err
	}
	for _, d := range []downtimeIn{
		{"unplanned", `{host="fnpc3001"}`, end - 4*h, end - 7*h/2, "e2e", "PSU failure"},
		{"planned", `{host="fnpc3002"}`, end - 2*h, end - 3*h/2, "e2e", "kernel update"},
		{"planned", `{service="enstore"}`, end - 3*h, end - 5*h/2, "e2e", "tape library maintenance"},
		{"unplanned", `{service="dcache"}`, end - 2*h, end - 7*h/4, "e2e", "pool node crash"},
		{"planned", `{host="stor01"}`, now + h, now + 3*h, "e2e", "disk swap (upcoming)"},
	} {
		if err := e.col.api("POST", "/api/v1/downtimes", editorToken, d, nil); err != nil {
			return err
		}
	}
	var events []map[string]any
	for k := int64(1); k <= 3; k++ {
		events = append(events, map[string]any{"type": "dh_error", "source": "dcache-slurper", "time": end - k*1800,
			"labels": l("service", "dcache"), "data": map[string]any{"message": fmt.Sprintf("transfer %d failed: checksum mismatch", k)}})
	}
	if err := e.col.api("POST", "/api/v1/events", editorToken, events, nil); err != nil {
		return err
	}
	if err := e.seedJobs(end); err != nil {
		return err
	}
	// Until the last point of each family can be read back.
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := e.lastPointsVisible(start, end)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("seeded samples not queryable after 60 s: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type seriesAnswer struct {
	Series []struct {
		Name       string            `json:"name"`
		Labels     map[string]string `json:"labels"`
		Timestamps []float64         `json:"timestamps"`
		Values     []*float64        `json:"values"`
	} `json:"series"`
}

func (e *env) lastPointsVisible(start, end int64) error {
	for _, sel := range []string{`host_load1{host="fnpc3001"}`, `dh_errors_total{service="dcache"}`, `rexmon_samples_written_total{job="rexmon"}`} {
		var res seriesAnswer
		q := fmt.Sprintf("/api/v1/query?match=%s&from=%d&to=%d&step=60", url.QueryEscape(sel), start-60, end+60)
		if err := e.col.api("GET", q, viewerToken, nil, &res); err != nil {
			return err
		}
		if len(res.Series) != 1 {
			return fmt.Errorf("%s: %d series", sel, len(res.Series))
		}
		s := res.Series[0]
		ok := false
		for i, ts := range s.Timestamps {
			if int64(ts) == end && s.Values[i] != nil {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("%s has no value at %d yet", sel, end)
		}
	}
	return nil
}
