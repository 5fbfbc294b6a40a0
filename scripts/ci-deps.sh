#!/usr/bin/env bash
# Installs what the test suite needs beyond Go, from Debian's packages:
#   chromium  the dashboard browser test (server/dashboard_browser_test.go)
#   zsh       the zsh completion test (cmd/ffsqlite/completion_test.go; bash is there already)
#   python3   the urllib 413 test (server/input_test.go)
# Idempotent: installs only what is missing; run as root (CI is).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v bash >/dev/null 2>&1 || missing+=(bash)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ci-deps: not root; install these yourself: apt-get install ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
for tool in "${missing[@]}"; do
  command -v "$tool" >/dev/null || { echo "ci-deps: $tool did not install" >&2; exit 1; }
done
