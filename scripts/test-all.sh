#!/usr/bin/env bash
# `npm test`: every test in the repository — the collector (node's test runner, real rrdtool, rrdcached,
# SQLite, PostgreSQL, Alertmanager), then the Grafana plugin (typecheck, lint, jest, go test against a
# real collector, build, dist checks), then the end-to-end tests in test/ (Grafana's files, and every
# dashboard and alert query through the built plugin). Ends with one line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
failed_parts=()

# What the tests run for real: rrdtool, rrdcached, PostgreSQL, Prometheus Alertmanager, promtool (package prometheus),
# the node exporter, collectd, Chromium (the status page), rsyslog (relays to the syslog listeners), python3 (the
# Python event client is run by it), iproute2 (ss: listen backlogs), schemathesis (in a virtualenv); Go for the plugin.
source scripts/ensure-deps.sh
ensure_apt rrdtool rrdcached postgresql prometheus-alertmanager prometheus prometheus-node-exporter collectd-core curl chromium rsyslog python3 python3-venv iproute2 apache2-utils
ensure_npm || exit 1
# schemathesis (PyPI) fuzzes the HTTP API from its OpenAPI document (collector/src/fuzz/).
venv="$HOME/.cache/rexmon/schemathesis"
ensure_venv "$venv" collector/src/fuzz/schemathesis-requirements.txt || { echo "could not install schemathesis from PyPI" >&2; exit 1; }
export REXMON_SCHEMATHESIS="$venv/bin/st"
command -v go >/dev/null || { echo "Go is needed for the Grafana plugin's backend (see grafana-plugin/go.mod)" >&2; exit 1; }

echo "== build and lint the collector"
npm run --silent build -w collector || exit 1
npm run --silent lint || failed_parts+=(collector-lint)

echo "== collector tests"
(cd collector && node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$logdir/collector.tap" dist/) || failed_parts+=(collector)
pass_c=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$logdir/collector.tap" | tail -1)
fail_c=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$logdir/collector.tap" | tail -1)

echo "== Grafana plugin tests"
(bash grafana-plugin/scripts/ci-setup.sh && npm --prefix grafana-plugin test) 2>&1 | tee "$logdir/plugin.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_parts+=(grafana-plugin)
sum_jest() { grep -E '^Tests: ' "$logdir/plugin.log" | grep -oE "[0-9]+ $1" | awk '{s += $1} END {print s + 0}'; }
jest_pass=$(sum_jest passed)
jest_fail=$(sum_jest failed)
go_pass=$(grep -cE '^\s*--- PASS' "$logdir/plugin.log")
go_fail=$(grep -cE '^\s*--- FAIL' "$logdir/plugin.log")

echo "== end-to-end (test/)"
# The files Grafana and Docker load (node), then every dashboard and alert query through the built
# plugin backend against a seeded collector and a real Alertmanager (Go, test/e2e).
[ -x grafana-plugin/dist/gpx_rexmon_rrd_datasource_linux_amd64 ] || (cd grafana-plugin && npm run --silent build) || failed_parts+=(plugin-build)
node --test --test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination="$logdir/e2e.tap" \
  test/*.test.mjs || failed_parts+=(e2e-files)
pass_f=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$logdir/e2e.tap" | tail -1)
fail_f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$logdir/e2e.tap" | tail -1)
(cd test/e2e && go test -count=1 -v ./... 2>&1 | grep -vE "^=== (RUN|PAUSE|CONT)") | tee "$logdir/e2e-go.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_parts+=(e2e-go)
e2e_pass=$(grep -cE '^\s*--- PASS' "$logdir/e2e-go.log")
e2e_fail=$(grep -cE '^\s*--- FAIL' "$logdir/e2e-go.log")

passed=$(( ${pass_c:-0} + ${jest_pass:-0} + go_pass + ${pass_f:-0} + e2e_pass ))
failures=$(( ${fail_c:-0} + ${jest_fail:-0} + go_fail + ${fail_f:-0} + e2e_fail ))
echo
echo "collector: ${pass_c:-0} passed, ${fail_c:-0} failed; plugin jest: ${jest_pass:-0} passed, ${jest_fail:-0} failed; plugin go: $go_pass passed, $go_fail failed"
echo "end-to-end: files ${pass_f:-0} passed, ${fail_f:-0} failed; through the plugin $e2e_pass passed, $e2e_fail failed"
if ((${#failed_parts[@]})); then
  echo "failed: ${failed_parts[*]}"
  ((failures == 0)) && failures=1
fi
echo "$passed passed, $failures failed"
((failures == 0))
