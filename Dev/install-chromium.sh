#!/usr/bin/env bash
# install-chromium.sh: installs headless Chromium (Debian package `chromium`) so that
# VisualizerTests can open the `hrm visualize` page in a real browser. Without it those
# tests skip with a notice. Needs root (or sudo) and the Debian package mirror.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(chromium --version 2>/dev/null || true)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
chromium --version || true
