#!/usr/bin/env bash
# Installs what the test suite needs beyond Go, from Debian's packages:
#   chromium  the dashboard browser test (server/dashboard_browser_test.go)
#   zsh       the zsh completion test (cmd/ffsqlite/completion_test.go; bash is there already)
#   python3   the urllib 413 test (server/input_test.go)
#   gcc       `go test -race` in .ci/run (the race detector needs cgo and a C
#             compiler with the C library headers; the product itself is pure Go)
# Idempotent: installs only what is missing; run as root (CI is).
set -euo pipefail
missing=()   # commands to check after the install
packages=()  # Debian packages to install
need() { # need COMMAND PACKAGE...
  local tool=$1
  shift
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing+=("$tool")
    packages+=("$@")
  fi
}
need chromium chromium
need zsh zsh
need bash bash
need python3 python3
need gcc gcc libc6-dev
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ci-deps: not root; install these yourself: apt-get install ${packages[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${packages[@]}" >/dev/null
for tool in "${missing[@]}"; do
  command -v "$tool" >/dev/null || { echo "ci-deps: $tool did not install" >&2; exit 1; }
done
