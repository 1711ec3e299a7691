#!/bin/sh
# The collector container's start: complete deploy/rexmon.yaml from the environment (the viewer token),
# then run the collector in the foreground as PID 1's only child (signals reach it through exec).
set -eu
node /opt/rexmon/deploy/render-config.mjs /opt/rexmon/deploy/rexmon.yaml /run/rexmon/rexmon.yaml
# V8's young generation at 8 MB, as scripts/start.sh sets it; REXMON_NODE_OPTIONS (compose) comes after it and wins.
export NODE_OPTIONS="--max-semi-space-size=4${NODE_OPTIONS:+ $NODE_OPTIONS}"
exec node /opt/rexmon/collector/bin/rexmon.js start --config /run/rexmon/rexmon.yaml "$@"
