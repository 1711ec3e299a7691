package e2e

// The parts the tests run for real: a Prometheus Alertmanager, a collector started from
// deploy/rexmon.yaml (adapted to the test machine, then completed by deploy/render-config.mjs as
// the container's entrypoint does), and the built plugin backend as a separate process. All on
// 127.0.0.1, on free ports, stopped by the PIDs started here.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

const (
	viewerToken = "e2e-viewer-token-0123456789"
	editorToken = "e2e-editor-token-0123456789"
	pluginID    = "rexmon-rrd-datasource"
	dsUID       = "rexmon" // provisioning/datasources/rexmon.yaml
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
	if len(s) > 6000 {
		s = "…" + s[len(s)-6000:]
	}
	return s
}

// proc is a child process started here, stopped by its PID.
type proc struct {
	name   string
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan struct{}
}

func startProc(name string, dir string, argv ...string) (*proc, error) {
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), logs: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitHTTP polls url until it answers 200, the process exits, or the timeout passes.
func (p *proc) waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%s):\n%s", p.name, p.cmd.ProcessState, p.logs)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within %s (last: %s):\n%s", p.name, url, timeout, last, p.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func startAlertmanager(dir string) (*proc, string, error) {
	bin := os.Getenv("REXMON_ALERTMANAGER")
	if bin == "" {
		bin = "/usr/bin/prometheus-alertmanager"
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: \"null\"\n  group_wait: 1s\nreceivers:\n  - name: \"null\"\n"), 0o644); err != nil {
		return nil, "", err
	}
	port := freePort()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	p, err := startProc("alertmanager", dir, bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "am-data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--cluster.listen-address=", "--log.level=warn")
	if err != nil {
		return nil, "", err
	}
	if err := p.waitHTTP(url+"/-/ready", 20*time.Second); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, url, nil
}

// collectorConfig writes the collector's config as the container would have it: deploy/rexmon.yaml
// adapted by adapt-config.mjs (addresses, no Grafana here), then completed by deploy/render-config.mjs.
func collectorConfig(dir string, port int, amURL string, slurpers bool) (string, error) {
	root := repoRoot()
	pre := filepath.Join(dir, fmt.Sprintf("pre-%v.yaml", slurpers))
	out := filepath.Join(dir, fmt.Sprintf("rexmon-%v.yaml", slurpers))
	// The self-scrape every 5 s, so the test sees it run without waiting a minute.
	o := map[string]any{"port": port, "alertmanager": amURL, "editorSha256": sha(editorToken), "slurpers": slurpers, "interval": "5s"}
	if slurpers {
		standin, err := writeCondorStandin(dir)
		if err != nil {
			return "", err
		}
		o["condorStandin"] = standin // jobs_seed_test.go
	}
	opts, _ := json.Marshal(o)
	adapt := exec.Command("node", filepath.Join(root, "test", "e2e", "adapt-config.mjs"), filepath.Join(root, "deploy", "rexmon.yaml"), pre, string(opts))
	if b, err := adapt.CombinedOutput(); err != nil {
		return "", fmt.Errorf("adapt-config.mjs: %v: %s", err, b)
	}
	render := exec.Command("node", filepath.Join(root, "deploy", "render-config.mjs"), pre, out)
	render.Env = append(os.Environ(), "REXMON_VIEWER_TOKEN="+viewerToken)
	if b, err := render.CombinedOutput(); err != nil {
		return "", fmt.Errorf("render-config.mjs: %v: %s", err, b)
	}
	return out, nil
}

type collector struct {
	URL     string
	port    int
	dataDir string
	p       *proc
}

func startCollector(dir, cfg, dataDir string, port int) (*collector, error) {
	bin := filepath.Join(repoRoot(), "collector", "bin", "rexmon.js")
	if _, err := os.Stat(filepath.Join(repoRoot(), "collector", "dist", "cli", "main.js")); err != nil {
		return nil, fmt.Errorf("the collector is not built: run `npm run build -w collector` at the repository root")
	}
	p, err := startProc("collector", dir, "node", bin, "start", "--config", cfg, "--data-dir", dataDir)
	if err != nil {
		return nil, err
	}
	c := &collector{URL: fmt.Sprintf("http://127.0.0.1:%d", port), port: port, dataDir: dataDir, p: p}
	if err := p.waitHTTP(c.URL+"/readyz", 90*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return c, nil
}

// api calls the collector's API; out receives the answer's data.
func (c *collector) api(method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
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

// pluginClient is the plugin backend's gRPC services, dispensed the way Grafana's plugin manager does.
type pluginClient struct {
	client *goplugin.Client
	data   grpcplugin.DataClient
	diag   grpcplugin.DiagnosticsClient
	res    grpcplugin.ResourceClient
}

func pluginExecutable() (string, error) {
	dist := filepath.Join(repoRoot(), "grafana-plugin", "dist")
	var meta struct {
		Executable string `json:"executable"`
	}
	b, err := os.ReadFile(filepath.Join(dist, "plugin.json"))
	if err == nil {
		err = json.Unmarshal(b, &meta)
	}
	if err != nil || meta.Executable == "" {
		return "", fmt.Errorf("grafana-plugin/dist/plugin.json missing or without executable (%v): build the plugin (cd grafana-plugin && npm run build)", err)
	}
	exe := filepath.Join(dist, meta.Executable+"_linux_amd64")
	if _, err := os.Stat(exe); err != nil {
		return "", fmt.Errorf("%s missing: build the plugin (cd grafana-plugin && npm run build)", exe)
	}
	return exe, nil
}

func startPlugin(exe string, logs io.Writer) (*pluginClient, error) {
	// As Grafana's plugin manager: protocol version 2, the datasource cookie, gRPC only, and the
	// services it uses by name ("diagnostics", "resource", "data").
	set := goplugin.PluginSet{
		"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
		"resource":    &grpcplugin.ResourceGRPCPlugin{},
		"data":        &grpcplugin.DataGRPCPlugin{},
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "GF_VERSION=12.4.0", "GF_EDITION=oss")
	c := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  goplugin.HandshakeConfig{ProtocolVersion: grpcplugin.ProtocolVersion, MagicCookieKey: grpcplugin.MagicCookieKey, MagicCookieValue: grpcplugin.MagicCookieValue},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: set},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: logs, Level: hclog.Warn}),
		StartTimeout:     30 * time.Second,
	})
	rpc, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("starting %s through the plugin protocol: %w", exe, err)
	}
	pc := &pluginClient{client: c}
	for name, dst := range map[string]any{"data": &pc.data, "diagnostics": &pc.diag, "resource": &pc.res} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			c.Kill()
			return nil, fmt.Errorf("dispensing %s: %w", name, err)
		}
		switch d := dst.(type) {
		case *grpcplugin.DataClient:
			*d = raw.(grpcplugin.DataClient)
		case *grpcplugin.DiagnosticsClient:
			*d = raw.(grpcplugin.DiagnosticsClient)
		case *grpcplugin.ResourceClient:
			*d = raw.(grpcplugin.ResourceClient)
		}
	}
	return pc, nil
}

// pluginContext is what Grafana sends for the provisioned datasource (uid rexmon, viewer token).
func (e *env) pluginContext() backend.PluginContext {
	s := backend.DataSourceInstanceSettings{
		UID:                     dsUID,
		Name:                    "rexmon",
		Type:                    pluginID,
		JSONData:                []byte(fmt.Sprintf(`{"url":%q}`, e.col.URL)),
		DecryptedSecureJSONData: map[string]string{"apiToken": viewerToken},
		Updated:                 e.started,
	}
	return backend.PluginContext{OrgID: 1, PluginID: pluginID, DataSourceInstanceSettings: &s}
}

func (e *env) queryData(ctx context.Context, headers map[string]string, qs ...backend.DataQuery) (*backend.QueryDataResponse, error) {
	req := &backend.QueryDataRequest{PluginContext: e.pluginContext(), Headers: headers, Queries: qs}
	resp, err := e.plugin.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(resp)
}

// callResource POSTs a JSON body to a plugin resource, as the frontend's postResource does.
func (e *env) callResource(ctx context.Context, path string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req := &backend.CallResourceRequest{
		PluginContext: e.pluginContext(), Path: path, Method: http.MethodPost, URL: path, Body: b,
		Headers: map[string][]string{"Content-Type": {"application/json"}},
	}
	stream, err := e.plugin.res.CallResource(ctx, backend.ToProto().CallResourceRequest(req))
	if err != nil {
		return 0, nil, err
	}
	var status int
	var out []byte
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			return status, out, nil
		}
		if err != nil {
			return 0, nil, err
		}
		if r.Code != 0 {
			status = int(r.Code)
		}
		out = append(out, r.Body...)
	}
}

// env is everything the tests share, started once.
type env struct {
	dir      string
	amProc   *proc
	amURL    string
	col      *collector
	plugin   *pluginClient
	plogs    *lockedBuffer
	started  time.Time
	seedEnd  time.Time
	hostname string
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.stop()
	}
	os.Exit(code)
}

func (e *env) stop() {
	if e.plugin != nil {
		e.plugin.client.Kill()
	}
	if e.col != nil {
		e.col.p.stop()
	}
	e.amProc.stop()
	_ = os.RemoveAll(e.dir)
}

func needEnv(t *testing.T) *env {
	t.Helper()
	envOnce.Do(func() { shared, envErr = setup() })
	if envErr != nil {
		t.Fatalf("setting up the end-to-end environment: %v", envErr)
	}
	return shared
}

func setup() (*env, error) {
	exe, err := pluginExecutable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rexmon-e2e-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, started: time.Now(), plogs: &lockedBuffer{}}
	e.hostname, _ = os.Hostname()
	if e.amProc, e.amURL, err = startAlertmanager(dir); err != nil {
		return e, err
	}
	port := freePort()
	dataDir := filepath.Join(dir, "data")
	// First run without slurpers: the seeded history (hours back) must go in before the live
	// slurpers write the same series at the current time, or it would be out of order.
	seedCfg, err := collectorConfig(dir, port, e.amURL, false)
	if err != nil {
		return e, err
	}
	if e.col, err = startCollector(dir, seedCfg, dataDir, port); err != nil {
		return e, err
	}
	if err := e.seed(); err != nil {
		return e, fmt.Errorf("seeding: %w\n%s", err, e.col.p.logs)
	}
	e.col.p.stop()
	// Then the deploy configuration as it runs in the container: host slurper and the self-scrape on.
	liveCfg, err := collectorConfig(dir, port, e.amURL, true)
	if err != nil {
		return e, err
	}
	if e.col, err = startCollector(dir, liveCfg, dataDir, port); err != nil {
		return e, err
	}
	if err := e.liveJobs(); err != nil {
		return e, err
	}
	if err := e.waitBatchSeries(); err != nil {
		return e, err
	}
	if e.plugin, err = startPlugin(exe, e.plogs); err != nil {
		return e, err
	}
	return e, nil
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
