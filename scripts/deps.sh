#!/bin/sh
# deps.sh PKG... — make sure these Debian packages are installed.
# As root: installs only what is missing (apt-get). Otherwise: prints the exact command, exits 1.
set -eu
missing=""
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "dvmq: missing Debian packages:$missing" >&2
	echo "run:  sudo apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "dvmq: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
