#!/usr/bin/env bash
# Builds the Go backend for Grafana on Linux: dist/gpx_rexmon_rrd_datasource_linux_{amd64,arm64}.
# Static (CGO off), stripped, with the SDK's build info (plugin id, version, time) compiled in.
# Usage: scripts/build-backend.sh [arch ...]   (default: amd64 arm64)
set -euo pipefail
cd "$(dirname "$0")/.."

exe=$(node -p "require('./src/plugin.json').executable")
id=$(node -p "require('./src/plugin.json').id")
version=$(node -p "require('./package.json').version")
info=$(printf '{"time":%s,"pluginID":"%s","version":"%s"}' "$(date +%s)000" "$id" "$version")
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64)

mkdir -p dist
for arch in "${archs[@]}"; do
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -tags arrow_json_stdlib \
    -ldflags "-w -s -X 'github.com/grafana/grafana-plugin-sdk-go/build/buildinfo.buildInfoJSON=$info'" \
    -o "dist/${exe}_linux_${arch}" ./pkg
  echo "built dist/${exe}_linux_${arch}"
done
