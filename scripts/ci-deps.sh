#!/usr/bin/env bash
# Installs what the test suite needs beyond Go: Debian's Chromium for the
# dashboard browser test (server/dashboard_browser_test.go) and a C
# compiler for `go test -race` (the race detector needs cgo; the product
# itself is pure Go). Idempotent; run as root (CI is).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ci-deps: not root; install ${missing[*]} yourself (apt-get install ${missing[*]})" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
if command -v chromium >/dev/null 2>&1; then chromium --version; fi
gcc --version | head -1
