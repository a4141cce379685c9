#!/usr/bin/env bash
# Installs the Debian 12 packages talus needs, only those missing.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config git
  libusb-1.0-0-dev umockdev libumockdev-dev
  libfftw3-dev libopencv-dev
  libsdl2-dev libsdl2-ttf-dev fonts-dejavu-core
  libsqlite3-dev sqlite3 libcjson-dev libcmocka-dev zlib1g-dev libpng-dev
  xvfb xauth
  python3 python3-numpy python3-scipy python3-opencv
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
