#!/bin/sh
# The collector container's start: complete deploy/rexmon.yaml from the environment (the viewer token),
# then run the collector in the foreground as PID 1's only child (signals reach it through exec).
set -eu
node /opt/rexmon/deploy/render-config.mjs /opt/rexmon/deploy/rexmon.yaml /run/rexmon/rexmon.yaml
exec node /opt/rexmon/collector/bin/rexmon.js start --config /run/rexmon/rexmon.yaml "$@"
