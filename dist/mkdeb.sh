#!/bin/bash
# mkdeb.sh STAGE OUT_DIR VERSION — a Debian package from a `make install PREFIX=/usr DESTDIR=STAGE`
# tree: man pages compressed as Debian wants, Depends from the binaries' libraries
# (dpkg-shlibdeps), a postinst that creates the `dvmq` group the control socket belongs to.
# Prints the path of the .deb.
set -euo pipefail
stage=$(realpath "$1")
out=$(realpath "$2")
version=$3
arch=$(dpkg --print-architecture)
find "$stage/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9nf {} +
mkdir -p "$stage/DEBIAN"
# dpkg-shlibdeps wants a debian/control to read: give it a minimal one in a scratch directory
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: dvmq\n\nPackage: dvmq\nArchitecture: any\n' >"$work/debian/control"
bins=("$stage"/usr/sbin/*)
depends=$(cd "$work" && dpkg-shlibdeps -O "${bins[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: dvmq
Version: $version
Architecture: $arch
Maintainer: dvmq developers <dvmq@localhost>
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: Dynamic Virtual Machine Queues for Linux hosts
 dvmq decides which processor of a virtualisation host serves each VM's
 receive queue, as Hyper-V's Dynamic VMQ does, without ping-pong. It ships
 the daemon and simulator (dvmq), its control tool (dvmqctl), a systemd unit
 and bash completion.
CONTROL
cat >"$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && ! getent group dvmq >/dev/null; then
	addgroup --system dvmq >/dev/null
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
POSTINST
chmod 755 "$stage/DEBIAN/postinst"
deb="$out/dvmq_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
