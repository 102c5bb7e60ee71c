#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the dependencies, build, and run umdevd in the foreground with the embedded default
# mtty parent 'mtty'. Extra arguments go to umdevd (see `umdevd --help`). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
if [[ -d build/meson-private ]]; then
	meson setup --reconfigure build -Dwerror=true >/dev/null
else
	meson setup build -Dwerror=true
fi
ninja -C build
exec ./build/src/daemon/umdevd --foreground "$@"
