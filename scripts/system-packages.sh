#!/usr/bin/env bash
# Debian/Ubuntu packages, installed when missing.
#   scripts/system-packages.sh window   what the program's window needs: Qt's X libraries, fonts
#   scripts/system-packages.sh          everything the tests need on top: a virtual screen,
#       Chromium, a PostgreSQL server for the tests that run on both database engines, binutils
#       (PyInstaller), pigz and desktop-file-utils to build and check the Linux bundle, zip and
#       unzip (the references the backup benchmark measures against)
set -euo pipefail
window=(
    libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 libxcb-render-util0
    libxcb-shape0 libxcb-xinerama0 libxkbcommon-x11-0 libegl1 libgl1 libnss3 libasound2
    fonts-dejavu-core fonts-noto-core
)
tests=(
    xvfb xauth xdotool chromium binutils pigz desktop-file-utils zip unzip postgresql
)
packages=("${window[@]}")
[ "${1:-all}" = window ] || packages+=("${tests[@]}")
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
