#!/usr/bin/env bash
# Builds the collector the Go integration tests run (collector/dist) when
# collector/dist/cli/main.js is missing or older than any collector/src/**/*.ts.
# REXMON_REPO_ROOT (default: the repository above grafana-plugin) and REXMON_COLLECTOR_BUILD
# (default: npm run --silent build -w collector, run at the root) are for this script's own test.
set -euo pipefail
root=${REXMON_REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
main_js=$root/collector/dist/cli/main.js
if [[ -f $main_js ]] && [[ -z $(find "$root/collector/src" -name '*.ts' -newer "$main_js" -print -quit) ]]; then
  exit 0
fi
echo "building the collector ($main_js missing or older than collector/src)"
cd "$root"
if [[ -n ${REXMON_COLLECTOR_BUILD:-} ]]; then
  bash -c "$REXMON_COLLECTOR_BUILD"
else
  npm run --silent build -w collector
fi
