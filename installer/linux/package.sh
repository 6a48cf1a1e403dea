#!/usr/bin/env bash
# Pack the built bundle (dist/dental-images/) for Linux: a .tar.gz with the desktop entry, the
# icon and install.sh inside, and a .deb when dpkg-deb is available.
# Usage: installer/linux/package.sh VERSION   (run by build/build.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
version="$1"
bundle=dist/dental-images
arch="$(uname -m)"
[ -x "$bundle/dental-images" ] || { echo "no bundle in $bundle: run build/build.sh" >&2; exit 1; }

cp installer/linux/dental-images.desktop installer/linux/install.sh build/icons/dental-images.png \
    "$bundle/"
chmod +x "$bundle/install.sh"
tarball="dist/DentalImages-$version-linux-$arch.tar.gz"
gzip_tool="$(command -v pigz || command -v gzip)"  # pigz: same format, every core
tar -C dist -cf - dental-images | "$gzip_tool" -6 >"$tarball.part"
mv "$tarball.part" "$tarball"
echo "$tarball"

command -v dpkg-deb >/dev/null || exit 0
deb_arch="$(dpkg --print-architecture)"
stage="build/out/deb"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
    "$stage/usr/share/icons/hicolor/256x256/apps"
cp -a "$bundle" "$stage/opt/dental-images"
rm "$stage/opt/dental-images/install.sh"
ln -s /opt/dental-images/dental-images "$stage/usr/bin/dental-images"
cp installer/linux/dental-images.desktop "$stage/usr/share/applications/"
cp build/icons/dental-images.png "$stage/usr/share/icons/hicolor/256x256/apps/"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$deb_arch/" \
    -e "s/@SIZE@/$(du -sk "$stage" | cut -f1)/" installer/linux/control >"$stage/DEBIAN/control"
deb="dist/dental-images_${version}_${deb_arch}.deb"
dpkg-deb --root-owner-group -Zzstd --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
echo "$deb"
