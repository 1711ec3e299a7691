#!/usr/bin/env bash
# Quick start: installs what is missing (rrdtool and rrdcached through apt, the npm packages, the build)
# and starts the collector on its defaults: SQLite and RRD archive under ./data, HTTP API on
# 127.0.0.1:8080, Graphite on 127.0.0.1:2003 (TCP and UDP), the host slurper every 60 s.
# Extra arguments go to `rexmon start` (e.g. --config rexmon.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-deps.sh
ensure_apt rrdtool rrdcached
ensure_npm
npm run --silent build -w collector
# Readable log lines here, even piped (| tee); REXMON_LOG_FORMAT=json gives JSON lines.
export REXMON_LOG_FORMAT="${REXMON_LOG_FORMAT:-pretty}"
exec node collector/bin/rexmon.js start "$@"
