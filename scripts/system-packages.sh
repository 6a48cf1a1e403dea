#!/usr/bin/env bash
# Debian/Ubuntu packages, installed when missing.
#   scripts/system-packages.sh window   what the program's window needs: Qt's X libraries, fonts
#   scripts/system-packages.sh          everything the tests need on top: a virtual screen,
#       Chromium, a PostgreSQL server for the tests that run on both database engines, binutils
#       (PyInstaller), pigz and desktop-file-utils to build and check the Linux bundle, zip and
#       unzip (the references the backup benchmark measures against), p7zip-full (7-Zip, which
#       must open the encrypted backups), dcmtk (DICOM files made
#       and compressed as x-ray programs do, for the DICOM tests), orthanc (the PACS the DICOM
#       export tests send to), and for the Windows lane
#       (scripts/windows-checks.sh) Wine with its 32-bit part (Inno Setup's compiler and setup
#       programs are 32-bit) and npm (Inno Setup's compiler comes from the npm registry)
#   scripts/system-packages.sh windows  only the Windows lane's packages
set -euo pipefail
window=(
    libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 libxcb-render-util0
    libxcb-shape0 libxcb-xinerama0 libxkbcommon-x11-0 libegl1 libgl1 libnss3 libasound2
    fonts-dejavu-core fonts-noto-core
)
tests=(
    xvfb xauth xdotool chromium binutils pigz desktop-file-utils zip unzip p7zip-full postgresql dcmtk
    orthanc
)
windows=(wine wine64 wine32:i386 xvfb xauth)
command -v npm >/dev/null 2>&1 || windows+=(npm)
case "${1:-all}" in
    window) packages=("${window[@]}") ;;
    windows) packages=("${windows[@]}") ;;
    *) packages=("${window[@]}" "${tests[@]}" "${windows[@]}") ;;
esac
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [[ " ${missing[*]} " == *":i386 "* ]] && ! dpkg --print-foreign-architectures | grep -qx i386; then
    as_root dpkg --add-architecture i386
fi
as_root apt-get update -qq
lean=() rest=()
for package in "${missing[@]}"; do
    # Wine's recommended packages (fonts, sound, GStreamer) are hundreds of MB the lane never uses.
    case "$package" in wine*) lean+=("$package") ;; *) rest+=("$package") ;; esac
done
install() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; }
[ ${#rest[@]} -eq 0 ] || install "${rest[@]}"
[ ${#lean[@]} -eq 0 ] || install --no-install-recommends "${lean[@]}"
