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
# One descriptor per slurper connection: the soft open-file limit up to the hard one (node does the same, but
# rrdcached and the rrdtool children it starts inherit this shell's). Below what the config's maxConnections
# need, the collector says so at start and holds fewer connections.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10512 ]; then
  echo "note: the open-file limit is $(ulimit -n): fewer than graphite.maxConnections (10000) + 512 connections can be held; raise the hard limit (ulimit -Hn, LimitNOFILE=)" >&2
fi
# Readable log lines here, even piped (| tee); REXMON_LOG_FORMAT=json gives JSON lines.
export REXMON_LOG_FORMAT="${REXMON_LOG_FORMAT:-pretty}"
# A 4 MB semi-space: V8's young generation commits 8 MB instead of growing to 32 MB under a burst (README,
# Operations, "Memory"); node flags in the caller's NODE_OPTIONS come after it and win.
export NODE_OPTIONS="--max-semi-space-size=4${NODE_OPTIONS:+ $NODE_OPTIONS}"
exec node collector/bin/rexmon.js start "$@"
