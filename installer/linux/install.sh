#!/usr/bin/env bash
# Install Dental Images for this user from the unpacked folder: a menu entry and
# ~/.local/bin/dental-images pointing at this folder. `install.sh --uninstall` removes both;
# the clinic's data (~/.local/share/DentalImages) is never touched.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
entry="$apps/dental-images.desktop"
link="$HOME/.local/bin/dental-images"
if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$entry" "$link"
    echo "Removed the menu entry and $link. Your data folder was kept."
    exit 0
fi
mkdir -p "$apps" "$(dirname "$link")"
sed -e "s|^Exec=.*|Exec=\"$here/dental-images\"|" -e "s|^Icon=.*|Icon=$here/dental-images.png|" \
    "$here/dental-images.desktop" >"$entry"
ln -sfn "$here/dental-images" "$link"
echo "Dental Images is in your applications menu; from a terminal: $link"
