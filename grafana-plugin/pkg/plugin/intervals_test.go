package plugin

import (
	"encoding/json"
	"testing"
	"time"
)

// The step field as Grafana's built-in variables leave it (see the frontend's builtinScopedVars):
// $__interval 15s or 1y, ${__interval_ms}ms, $__range 3600s, $__range_s 3600, ${__range_ms}ms.
func TestStepFromGrafanaIntervals(t *testing.T) {
	from, to := time.UnixMilli(1795300000000), time.UnixMilli(1795303600000)
	for in, want := range map[string]string{"15s": "15", "15000ms": "15", "3600s": "3600", "3600": "3600", "3600000ms": "3600", "1y": "31536000", "500ms": "1"} {
		q := dq(t, "", map[string]any{"metric": "cpu_usage", "step": in}, from, to)
		q.Interval = 0
		var qm QueryModel
		if err := json.Unmarshal(q.JSON, &qm); err != nil {
			t.Fatal(err)
		}
		p, err := queryParams(q, qm, false)
		if err != nil || p.Get("step") != want {
			t.Errorf("step %q: %v %v, want step=%s", in, p.Get("step"), err, want)
		}
	}
	// Unresolved (an alert rule has no dashboard): refused, naming the step.
	for _, in := range []string{"$__interval", "$__rate_interval", "${__interval_ms}"} {
		q := dq(t, "", map[string]any{"metric": "cpu_usage", "step": in}, from, to)
		var qm QueryModel
		_ = json.Unmarshal(q.JSON, &qm)
		if _, err := queryParams(q, qm, false); err == nil || !contains(err.Error(), "step") {
			t.Errorf("step %q: %v, want an error naming the step", in, err)
		}
	}
}
