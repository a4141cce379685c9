#!/usr/bin/env bash
# Side by side: talus bench imaging vs bench/reference_bmode.py (scipy
# hilbert + numpy log10 + cv2.remap), same synthetic RF sizes and display
# (800 x 600), one core each, in one go. Prints per-stage medians and the
# ratio reference_time / talus_time for each size.
#
#   bench/compare_imaging.sh [TALUS_BINARY]     (default build/dev/apps/talus/talus)
#   FRAMES=200 REF_FRAMES=100 CONVEX=1 bench/compare_imaging.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
talus=${1:-${TALUS_BIN:-$here/../build/dev/apps/talus/talus}}
py=/usr/bin/python3   # Debian's python3-scipy / python3-opencv
frames=${FRAMES:-200}
ref_frames=${REF_FRAMES:-100}
extra=()
[ "${CONVEX:-0}" = 1 ] && extra=(--convex)
[ -x "$talus" ] || { echo "compare_imaging.sh: no talus binary at $talus (build first)" >&2; exit 2; }
echo "# $(date -u +%FT%TZ) $(uname -m), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for size in "128 2048" "256 4096"; do
  set -- $size
  t=$("$talus" bench imaging --lines "$1" --samples "$2" --frames "$frames" \
        --width 800 --height 600 "${extra[@]}" --json 2>/dev/null)
  r=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$py" "$here/reference_bmode.py" \
        --lines "$1" --samples "$2" --frames "$ref_frames" --width 800 --height 600 \
        "${extra[@]}" --json)
  "$py" - "$1" "$2" "$t" "$r" <<'PY'
import json, sys
lines, samples, t, r = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
print(f"{lines} x {samples} -> 800 x 600 ({t['geometry']}):")
for k in ("envelope_ms", "compress_ms", "scan_convert_ms", "total_ms"):
    print(f"  {k:16s} talus {t[k]:8.3f}   reference {r[k]:8.3f}")
print(f"  reference_time / talus_time = {r['total_ms'] / t['total_ms']:.1f}"
      f"   (talus {t['demodulator']}, envelope samples {t['envelope_samples']}, frames {t['frames']} / {r['frames']})")
PY
done
