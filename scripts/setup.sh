#!/usr/bin/env bash
# Installs what twinshot needs on a fresh Debian/Ubuntu machine, then the npm packages and the
# native addon. Usage: scripts/setup.sh [run|test]   (test adds PostgreSQL+pgvector and Chromium)
# As root it installs with apt-get; otherwise it prints the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-run}"

# libopenblas0-openmp: libtorch-dev alone pulls in the reference BLAS, about 30x slower for the
# matrix products of linear layers (measured: 10.6 s vs 0.33 s for Koch et al.'s 9216x4096 layer).
# libgloo-dev: the headers of Gloo, the CPU backend of libtorch's distributed package (the
# library itself comes with libtorch-dev); distributed training compiles against them.
packages=(libtorch-dev libgloo-dev libopenblas0-openmp g++ make python3)
if [ "$purpose" = test ]; then
  # curl: the browser test runs the page's curl snippet as a user would.
  packages+=(python3-torch postgresql chromium curl)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "twinshot: missing system packages: ${missing[*]} (no apt-get here: install libtorch and set LIBTORCH)" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "twinshot: missing system packages. Install them with:" >&2
    echo "    sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "twinshot: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

if [ "$purpose" = test ]; then
  bash scripts/setup-pgvector.sh
fi

# npm packages (the install script builds the native addon; TypeScript is built below, and by prepack for `npm pack`)
# onnxruntime-node (a dev dependency, for the ONNX parity tests) would fetch CUDA provider binaries
# from NuGet in its postinstall; package.json's allowScripts blocks it, and this covers npm versions
# that ignore allowScripts. Its bundled CPU runtime is all twinshot uses.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
fi
node scripts/build-native.js
[ -f dist/index.js ] && [ -z "$(find src -newer dist/index.js -name '*.ts' -print -quit)" ] || npm run build:ts
# The shipped models as ONNX files (models/*/model.onnx), for the page and users; skipped when up to date.
node scripts/export-models.js
# The web page that `twinshot serve` serves at / (web/dist), rebuilt when its sources changed.
[ -f web/dist/index.html ] && [ -z "$(find web/src web/index.html web/vite.config.ts -newer web/dist/index.html -print -quit)" ] || npx vite build web --logLevel warn
