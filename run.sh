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
# The simulated probe (serial TLSIM0001) gets a stored calibration the way a
# technician would make one (wire phantom through the emulated USB bus), so
# the station applies it instead of warning "calibration missing". The demo
# keeps its records in out/calibration, away from the real probes' store
# (set TALUS_CAL_DIR to use another).
export TALUS_CAL_DIR="${TALUS_CAL_DIR:-$PWD/out/calibration}"
if ! "$TALUS" calibrate show --probe TLSIM0001 2>/dev/null | grep -q "calibration valid"; then
  echo "calibrating the simulated probe on the wire phantom ..." >&2
  "$TALUS" calibrate spatial --sim wire-phantom --technician demo >/dev/null
fi
SCENE=(--sim needle-insertion --sim-param anatomy=plantar-fascia,needle_speed_mm=0.1)
if [ -n "${DISPLAY:-}" ]; then
  exec "$TALUS" run "${SCENE[@]}" "$@"
else
  echo "no display: running headless, snapshots and summary.json in out/demo" >&2
  mkdir -p out/demo
  "$TALUS" run "${SCENE[@]}" --headless --frames 300 --out out/demo \
    --script ui/demo.script --db out/demo/talus.db "$@"
  echo "see out/demo/*.png; the log: $TALUS log list --db out/demo/talus.db" >&2
fi
