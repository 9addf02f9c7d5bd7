#!/bin/sh
# install-conf.sh CONF — meson's install script: /etc/dvmq/dvmq.conf (under DESTDIR) from CONF,
# the commented example, only when no dvmq.conf is there yet: `make install` never overwrites a
# configuration someone edited. The .deb carries it as a conffile (dpkg asks before replacing).
set -eu
dest="${DESTDIR:-}/etc/dvmq"
if [ -e "$dest/dvmq.conf" ]; then
	echo "dvmq: $dest/dvmq.conf exists: left as it is" >&2
	exit 0
fi
mkdir -p "$dest"
cp "$1" "$dest/dvmq.conf"
chmod 644 "$dest/dvmq.conf"
