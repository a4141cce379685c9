#!/usr/bin/env bash
# Installs what is missing, builds, and runs the navigation station on the
# simulated probe: a window where there is a display, headless snapshots where
# there is none. Extra arguments go to `talus run`.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh
cmake -S . -B build/plain -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/plain -j "$(nproc)"
TALUS=build/plain/apps/talus/talus
if [ -n "${DISPLAY:-}" ]; then
  exec "$TALUS" run --sim plantar-fascia "$@"
else
  echo "no display: running headless, snapshots in out/demo" >&2
  exec "$TALUS" run --sim plantar-fascia --headless --frames 300 --out out/demo "$@"
fi
