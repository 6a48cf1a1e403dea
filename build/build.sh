#!/usr/bin/env bash
# Build the bundle (dist/dental-images/) with PyInstaller, then this OS's package:
# Linux: dist/DentalImages-<version>-linux-<arch>.tar.gz (and a .deb where dpkg-deb exists);
# macOS: dist/Dental Images.app and dist/DentalImages-<version>-macos.dmg.
# Windows: use build/build.ps1. Usage: bash build/build.sh   (PYTHON=... picks another Python)
set -euo pipefail
# Package files must be readable by everyone (dpkg-deb refuses a 0700 control folder), even
# when started from a process that keeps its own files private (the program sets umask 077).
umask 022
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
if ! "$python" -c "import PyInstaller, webview" >/dev/null 2>&1; then
    scripts/setup-venv.sh window,build
fi
version="$("$python" build/bundle_info.py)"
started=$(date +%s)
"$python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath dist --workpath build/out build/dental-images.spec
case "$(uname -s)" in
    Linux) bash installer/linux/package.sh "$version" ;;
    Darwin) bash installer/macos/make-dmg.sh "$version" ;;
esac
echo "Dental Images $version built in $(($(date +%s) - started)) s: see dist/"
