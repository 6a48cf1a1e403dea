#!/usr/bin/env bash
# Pack dist/Dental Images.app into dist/DentalImages-<version>-macos.dmg (the app beside a link
# to /Applications, to drag it across), and sign and notarise it when the credentials are in the
# environment (see installer/README.md; none are ever stored in the repository).
# Usage: installer/macos/make-dmg.sh VERSION   (run by build/build.sh on macOS)
set -euo pipefail
cd "$(dirname "$0")/../.."
version="$1"
app="dist/Dental Images.app"
dmg="dist/DentalImages-$version-macos.dmg"
[ -d "$app" ] || { echo "no $app: run build/build.sh" >&2; exit 1; }

stage="build/out/dmg"
rm -rf "$stage" "$dmg"
mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
hdiutil create -volname "Dental Images $version" -srcfolder "$stage" -fs HFS+ -format UDZO \
    -ov "$dmg" >/dev/null
rm -rf "$stage"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    codesign --sign "$MACOS_SIGN_IDENTITY" --timestamp "$dmg"
fi
if [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
    xcrun notarytool submit "$dmg" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
        --password "$APPLE_APP_PASSWORD" --wait
    xcrun stapler staple "$dmg"
fi
echo "$dmg"
