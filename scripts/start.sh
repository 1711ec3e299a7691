#!/usr/bin/env bash
# Quick start: installs what is missing (rrdtool and rrdcached through apt, the npm packages, the build)
# and starts the collector on its defaults: SQLite and RRD archive under ./data, HTTP API on
# 127.0.0.1:8080, Graphite on 127.0.0.1:2003 (TCP and UDP), the host slurper every 60 s.
# Extra arguments go to `rexmon start` (e.g. --config rexmon.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v rrdtool >/dev/null || need_apt+=(rrdtool)
command -v rrdcached >/dev/null || need_apt+=(rrdcached)
if ((${#need_apt[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "start: installing ${need_apt[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "start: Node.js 20 or newer is needed (apt-get install nodejs, or nodejs.org)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo "start: Node.js $(node --version) is too old; 20 or newer is needed" >&2; exit 1; }

# npm ci only when node_modules does not match the lock file.
stamp=node_modules/.rexmon-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
npm run --silent build -w collector
exec node collector/bin/rexmon.js start "$@"
