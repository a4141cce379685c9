#!/usr/bin/env bash
# Installs what is missing, builds with -Werror, and runs the whole suite twice:
# a plain build and an AddressSanitizer + UndefinedBehaviorSanitizer build.
#   ./test.sh            both
#   ./test.sh plain      only the plain build
#   ./test.sh sanitize   only the sanitized build
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh
JOBS=$(nproc)
which_builds=${1:-all}

run_suite() { # name, extra cmake args...
  local name=$1; shift
  cmake -S . -B "build/$name" -DTALUS_WERROR=ON "$@" >/dev/null
  cmake --build "build/$name" -j "$JOBS"
  (cd "build/$name" && ctest --output-on-failure -j "$JOBS" --timeout 600)
}

if [ "$which_builds" = all ] || [ "$which_builds" = plain ]; then
  echo "== plain build =="
  run_suite plain -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
if [ "$which_builds" = all ] || [ "$which_builds" = sanitize ]; then
  echo "== ASan + UBSan build =="
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
  run_suite sanitize -DCMAKE_BUILD_TYPE=Debug -DTALUS_SANITIZE=ON
fi
