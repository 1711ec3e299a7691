package plugin

// A real rexmon collector for the integration tests: built from this repository
// (collector/dist), run with the real rrdtool/rrdcached in a temp dir, seeded through
// its HTTP API, stopped by its PID at the end of the test binary.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
)

const (
	viewerToken = "grafana-viewer-token-for-tests"
	editorToken = "seeder-editor-token-for-tests"
)

type testCollector struct {
	URL     string
	cmd     *exec.Cmd
	dir     string
	logs    *lockedBuffer
	exited  chan struct{}
	seedEnd time.Time // the last seeded sample time
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

var (
	collectorOnce sync.Once
	collectorInst *testCollector
	collectorSkip string
	collectorErr  error
)

func TestMain(m *testing.M) {
	log.DefaultLogger = log.NewWithLevel(log.Info) // the SDK's debug lines drown the test output
	code := m.Run()
	if collectorInst != nil {
		collectorInst.stop()
	}
	os.Exit(code)
}

// repoRoot is three levels above this package: grafana-plugin/pkg/plugin.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// skipIntegrationEnv, set to 1, skips the tests that need the collector when it is not built.
const skipIntegrationEnv = "REXMON_SKIP_INTEGRATION"

// collectorMissing tells what to do when collector/dist is not there: skip (only when
// REXMON_SKIP_INTEGRATION=1) or fail, with the message to give. Both empty: the collector is built.
func collectorMissing(root, skipEnv string) (skip, fail string) {
	dist := filepath.Join(root, "collector", "dist")
	if _, err := os.Stat(filepath.Join(dist, "cli", "main.js")); err == nil {
		return "", ""
	}
	msg := "the collector is not built (" + filepath.Join(dist, "cli", "main.js") + " missing): run " +
		"`npm run build -w collector` at the repository root (grafana-plugin's npm test does it), or set " +
		skipIntegrationEnv + "=1 to skip the integration tests"
	if skipEnv == "1" {
		return msg, ""
	}
	return "", msg
}

// needCollector gives the shared seeded collector, starting it on first use. Without a built
// collector the test fails, unless REXMON_SKIP_INTEGRATION=1 asks to skip it.
func needCollector(t *testing.T) *testCollector {
	t.Helper()
	collectorOnce.Do(func() {
		root := repoRoot()
		var fail string
		if collectorSkip, fail = collectorMissing(root, os.Getenv(skipIntegrationEnv)); collectorSkip != "" || fail != "" {
			if fail != "" {
				collectorErr = errors.New(fail)
			}
			return
		}
		collectorInst, collectorErr = startCollector(filepath.Join(root, "collector", "bin", "rexmon.js"))
		if collectorErr == nil {
			collectorErr = collectorInst.seed()
		}
	})
	if collectorSkip != "" {
		t.Skip(collectorSkip)
	}
	if collectorErr != nil {
		t.Fatalf("starting the test collector: %v", collectorErr)
	}
	return collectorInst
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startCollector(bin string) (*testCollector, error) {
	dir, err := os.MkdirTemp("", "rexmon-plugin-test-")
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`auth:
  tokens:
    - {name: grafana, role: viewer, sha256: %s}
    - {name: seeder, role: editor, sha256: %s}
graphite: {tcp: false, udp: false}
slurpers: []
`, sha(viewerToken), sha(editorToken))
	cfgFile := filepath.Join(dir, "rexmon.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &testCollector{URL: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, logs: &lockedBuffer{}, exited: make(chan struct{})}
	dataDir := filepath.Join(dir, "data")
	c.cmd = exec.Command("node", bin, "start", "--config", cfgFile, "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	c.cmd.Dir = dir
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("node %s start: %w", bin, err)
	}
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-c.exited:
			return nil, fmt.Errorf("the collector exited before it was ready: %s\n%s", c.cmd.ProcessState, c.logs)
		default:
		}
		resp, err := http.Get(c.URL + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("the collector was not ready within 60 s (last: %v)\n%s", err, c.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the collector we started, by its PID, and removes its temp dir.
func (c *testCollector) stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	_ = os.RemoveAll(c.dir)
}

type sample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
	Time   int64             `json:"time"`
}

// Seeded series: 30 one-minute points ending at seedEnd.
//
//	cpu_usage{host=fnpc3001,mode=user}   value 10+i
//	cpu_usage{host=fnpc3002,mode=user}   value 20+i
//	cpu_usage{host=fnpc.3003,mode=idle}  value 50   (a regex character in the value)
//	condor_jobs{experiment=nova,state=idle|running,schedd=s01|s02}  1,2,3,4
//	disk_free{host=fnpc3001}              value 100
const seedPoints = 30

func seedValue(labels map[string]string, name string, i int) float64 {
	switch name {
	case "cpu_usage":
		switch labels["host"] {
		case "fnpc3001":
			return float64(10 + i)
		case "fnpc3002":
			return float64(20 + i)
		default:
			return 50
		}
	case "condor_jobs":
		v := 1.0
		if labels["state"] == "running" {
			v += 2
		}
		if labels["schedd"] == "s02" {
			v++
		}
		return v
	default:
		return 100
	}
}

func seedSeries() []sample {
	var out []sample
	add := func(name string, l map[string]string) { out = append(out, sample{Name: name, Labels: l}) }
	add("cpu_usage", map[string]string{"host": "fnpc3001", "mode": "user"})
	add("cpu_usage", map[string]string{"host": "fnpc3002", "mode": "user"})
	add("cpu_usage", map[string]string{"host": "fnpc.3003", "mode": "idle"})
	for _, st := range []string{"idle", "running"} {
		for _, sd := range []string{"s01", "s02"} {
			add("condor_jobs", map[string]string{"experiment": "nova", "state": st, "schedd": sd})
		}
	}
	add("disk_free", map[string]string{"host": "fnpc3001"})
	return out
}

func (c *testCollector) seed() error {
	now := time.Now().Unix()
	end := now - now%60 - 60 // last complete minute
	start := end - (seedPoints-1)*60
	c.seedEnd = time.Unix(end, 0)
	var batch []sample
	for i := 0; i < seedPoints; i++ {
		for _, s := range seedSeries() {
			s.Time = start + int64(i)*60
			s.Value = seedValue(s.Labels, s.Name, i)
			batch = append(batch, s)
		}
	}
	var accepted struct {
		Accepted int `json:"accepted"`
	}
	if err := c.post("/api/v1/samples", batch, &accepted); err != nil {
		return fmt.Errorf("seeding samples: %w", err)
	}
	if accepted.Accepted != len(batch) {
		return fmt.Errorf("seeding: the collector accepted %d of %d samples", accepted.Accepted, len(batch))
	}
	// Poll until the last point of every seeded series is queryable.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := c.lastPointsVisible(start, end)
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("seeded samples not queryable after 30 s (last: %v)\n%s", err, c.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *testCollector) lastPointsVisible(start, end int64) (bool, error) {
	q := fmt.Sprintf("/api/v1/query?match=%s&from=%d&to=%d&step=60", "%7B__name__%3D~%22cpu_usage%7Ccondor_jobs%7Cdisk_free%22%7D", start-60, end+60)
	var res collectorQueryResult
	if err := c.get(q, viewerToken, &res); err != nil {
		return false, err
	}
	if len(res.Series) != len(seedSeries()) {
		return false, fmt.Errorf("%d series of %d", len(res.Series), len(seedSeries()))
	}
	for _, s := range res.Series {
		found := false
		for i, ts := range s.Timestamps {
			if int64(ts) == end && i < len(s.Values) && s.Values[i] != nil {
				found = true
			}
		}
		if !found {
			return false, fmt.Errorf("%s%v has no value at %d yet", s.Name, s.Labels, end)
		}
	}
	return true, nil
}

func (c *testCollector) do(method, path, token string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeAPIError(path, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s %s: %w: %s", method, path, err, b)
	}
	return json.Unmarshal(env.Data, out)
}

func (c *testCollector) post(path string, body, out any) error {
	return c.do(http.MethodPost, path, editorToken, body, out)
}

func (c *testCollector) get(path, token string, out any) error {
	return c.do(http.MethodGet, path, token, nil, out)
}

// settings of a datasource instance pointing at url with token.
func dsSettings(url, token string) backend.DataSourceInstanceSettings {
	s := backend.DataSourceInstanceSettings{
		UID:      "rexmon-test",
		Name:     "rexmon",
		Type:     "rexmon-rrd-datasource",
		JSONData: []byte(fmt.Sprintf(`{"url":%q}`, url)),
	}
	if token != "" {
		s.DecryptedSecureJSONData = map[string]string{"apiToken": token}
	}
	return s
}

func newDS(t testing.TB, url, token string) *Datasource {
	t.Helper()
	inst, err := NewDatasource(context.Background(), dsSettings(url, token))
	if err != nil {
		t.Fatalf("NewDatasource: %v", err)
	}
	t.Cleanup(inst.(*Datasource).Dispose)
	return inst.(*Datasource)
}

// closedURL is an address where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", p)
}

func contains(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }

// A missing collector build fails the integration tests; only REXMON_SKIP_INTEGRATION=1 skips them.
func TestCollectorMissingFailsUnlessSkipAsked(t *testing.T) {
	root := t.TempDir()
	for env, wantSkip := range map[string]bool{"": false, "0": false, "true": false, "1": true} {
		skip, fail := collectorMissing(root, env)
		if (skip != "") != wantSkip || (fail != "") == wantSkip || !strings.Contains(skip+fail, skipIntegrationEnv+"=1") {
			t.Errorf("%s=%q: skip %q, fail %q", skipIntegrationEnv, env, skip, fail)
		}
	}
	main := filepath.Join(root, "collector", "dist", "cli", "main.js")
	if err := os.MkdirAll(filepath.Dir(main), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, []byte("export {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if skip, fail := collectorMissing(root, ""); skip != "" || fail != "" {
		t.Errorf("built collector: skip %q, fail %q", skip, fail)
	}
}
