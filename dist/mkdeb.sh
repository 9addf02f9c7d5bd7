#!/bin/bash
# mkdeb.sh STAGE OUT_DIR VERSION — a Debian package from a `make install PREFIX=/usr DESTDIR=STAGE`
# tree: man pages and the larger docs compressed as Debian wants, a changelog, /etc/dvmq/dvmq.conf
# as a conffile, Depends from the binaries' libraries (dpkg-shlibdeps), a postinst that creates the
# `dvmq` group the control socket belongs to (dvmqctl in /usr/bin for its members).
# Prints the path of the .deb.
set -euo pipefail
stage=$(realpath "$1")
out=$(realpath "$2")
version=$3
arch=$(dpkg --print-architecture)
find "$stage/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9nf {} +
doc="$stage/usr/share/doc/dvmq"
# Debian compresses documentation over 4 KiB (copyright stays as it is)
find "$doc" -type f -size +4k ! -name copyright ! -name '*.conf' -exec gzip -9nf {} +
printf 'dvmq (%s) unstable; urgency=medium\n\n  * Built from the dvmq repository.\n\n -- dvmq developers <dvmq@localhost>  %s\n' \
	"$version" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")" | gzip -9n >"$doc/changelog.gz" # a native package's name
mkdir -p "$stage/DEBIAN"
echo /etc/dvmq/dvmq.conf >"$stage/DEBIAN/conffiles"
# dpkg-shlibdeps wants a debian/control to read: give it a minimal one in a scratch directory
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: dvmq\n\nPackage: dvmq\nArchitecture: any\n' >"$work/debian/control"
bins=("$stage"/usr/sbin/* "$stage"/usr/bin/*)
# binaries stripped as Debian ships them (the build directory keeps the debug information)
strip --remove-section=.comment --remove-section=.note --strip-unneeded "${bins[@]}"
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
