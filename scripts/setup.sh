#!/usr/bin/env bash
# One-time set-up on a fresh Debian 12 machine (or again, to update): system packages the
# tests and the demo use, then the npm packages. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Offline-safe installs: Electron's binary and onnxruntime-node's CUDA files are not fetched
# here (see README "Desktop app" and "GPU" for machines with internet access).
export ELECTRON_SKIP_BINARY_DOWNLOAD="${ELECTRON_SKIP_BINARY_DOWNLOAD:-1}"
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"

apt_packages=(dataset-fashion-mnist libonnx-testdata chromium xvfb libvulkan1 xz-utils python3-torch)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
