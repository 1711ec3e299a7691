#!/usr/bin/env bash
# Installs what the plugin's build and tests need, in grafana-plugin/ only; safe to run again.
#   npm ci          exact frontend dependencies from package-lock.json (skipped when up to date)
#   go mod download Go modules of go.mod/go.sum
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "ci-setup: Go is not installed (need Go >= $(sed -n 's/^go //p' go.mod))" >&2; exit 1; }
command -v node >/dev/null || { echo "ci-setup: Node.js is not installed (need Node >= 20)" >&2; exit 1; }

# The lock must list every platform's @swc/core binary or npm ci refuses it (see the script).
node scripts/complete-lock.mjs

# npm ci deletes and reinstalls node_modules; skip it when the installed tree matches the lock.
stamp=node_modules/.rexmon-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "ci-setup: node_modules matches package-lock.json"
elif [ -L node_modules ]; then
  # A linked node_modules (a git worktree sharing an install): npm ci would empty the link's target.
  echo "ci-setup: node_modules is a link to $(readlink node_modules) installed from another lock: not reinstalling through it" >&2
else
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

go mod download
go mod verify >/dev/null
echo "ci-setup: ready"
