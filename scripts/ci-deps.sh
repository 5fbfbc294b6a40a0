#!/usr/bin/env bash
# Installs what the test suite needs beyond Go: Debian's Chromium for the
# dashboard browser test (server/dashboard_browser_test.go). Idempotent;
# run as root (CI is).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ci-deps: not root; install Chromium yourself (apt-get install chromium)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
chromium --version
