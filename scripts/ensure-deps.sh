#!/usr/bin/env bash
# Installs what is missing, nothing else: Debian packages (through apt-get, with sudo unless root) and the
# npm packages of the lock file. Sourced by start.sh and test-all.sh.
#   ensure_apt PKG...   install the packages that are not installed
#   ensure_npm          npm ci when node_modules does not match package-lock.json
#   ensure_venv DIR REQ a Python virtualenv in DIR with the pinned requirements file REQ (re-made when REQ changes)
ensure_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${missing[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_npm() {
  command -v node >/dev/null || { echo "Node.js 20 or newer is needed" >&2; return 1; }
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo "Node.js $(node --version) is too old; 20 or newer is needed" >&2; return 1; }
  local stamp=node_modules/.rexmon-lock.sha256 want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    # A linked node_modules (a git worktree sharing another checkout's install): npm ci would empty the
    # link's target, which others use, before replacing the link. Never reinstall through a link.
    if [ -L node_modules ]; then
      echo "node_modules is a link to $(readlink node_modules), installed from another package-lock.json: not reinstalling through it (npm ci would empty it); run npm ci where it points" >&2
      return 0
    fi
    npm ci --no-audit --no-fund
    echo "$want" > "$stamp"
  fi
}

ensure_venv() {
  local dir=$1 req=$2 want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  [ -f "$dir/.rexmon-req.sha256" ] && [ "$(cat "$dir/.rexmon-req.sha256")" = "$want" ] && return 0
  rm -rf "$dir"
  # Debian's python3 (python3-venv gives it venv and pip).
  /usr/bin/python3 -m venv "$dir" || return 1
  "$dir/bin/pip" install -q --disable-pip-version-check -r "$req" || return 1
  echo "$want" > "$dir/.rexmon-req.sha256"
}
