#!/usr/bin/env bash
# The plugin's whole test: types, lint, frontend (jest), backend (go vet + go test, against a
# real collector, built first from collector/ when its dist is missing or stale), then the build and the checks of what Grafana
# would load (plugin.json consistency, backend executables, dist/module.js as an AMD module).
# Exits non-zero at the first failure. Run scripts/ci-setup.sh first on a fresh checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
start=$SECONDS

step "typecheck";            npx tsc --noEmit
step "lint";                 npx eslint --cache --quiet .
step "frontend tests (jest)"; npx jest --ci
# ./pkg/... rather than ./...: node_modules holds a stray Go package (flatted) that is not ours.
step "collector for the integration tests"; bash scripts/ensure-collector.sh
step "backend: go vet";       go vet ./pkg/...
step "backend tests (go test)"; go test -count=1 -v ./pkg/... 2>&1 | grep -vE "^=== (RUN|PAUSE|CONT)"
step "build (webpack + Go for linux amd64/arm64)"; npm run --silent build
step "dist checks";           npm run --silent test:dist

printf '\nall plugin tests passed in %ss\n' "$((SECONDS - start))"
