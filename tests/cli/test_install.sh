#!/bin/bash
# test_install.sh BUILD_DIR — `make install` honours PREFIX and DESTDIR and puts exactly the
# binaries, man pages, systemd unit and bash completion where they belong; the unit passes
# systemd-analyze verify; `make deb` packs the same files. BUILD_DIR's prefix is restored after.
set -u
b=$1
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d /tmp/dvmq-install.XXXXXX)
source tests/cli/harness.sh
prefix_of() {
	meson introspect "$b" --buildoptions |
		python3 -c 'import json, sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])'
}
orig=$(prefix_of)
restore() {
	meson configure "$b" -Dprefix="$orig" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap restore EXIT
man=$([[ -n $(find "$b/docs/man" -name '*.8' 2>/dev/null) ]] && echo yes)

# check_tree NAME ROOT PREFIX: exactly the expected files, executables executable, the unit's paths
check_tree() {
	local name=$1 root=$2 p=$3
	local want=("$p/sbin/dvmq" "$p/sbin/dvmqctl" "$p/lib/systemd/system/dvmq.service"
		"$p/share/bash-completion/completions/dvmqctl")
	[[ $man ]] && want+=("$p/share/man/man8/dvmq.8" "$p/share/man/man8/dvmqctl.8" "$p/share/man/man5/dvmq.conf.5")
	local got expect
	got=$(cd "$root" && find . -type f | sed 's|^\.||' | sort)
	expect=$(printf '%s\n' "${want[@]}" | sort)
	if [[ $got != "$expect" ]]; then
		bad "$name-files" "got: $(echo $got), want: $(echo $expect)"
		return
	fi
	ok "$name-files"
	if [[ -x $root$p/sbin/dvmq && -x $root$p/sbin/dvmqctl ]] && "$root$p/sbin/dvmqctl" --version | grep -q '^dvmqctl '; then
		ok "$name-executables"
	else
		bad "$name-executables" "not executable or not running"
	fi
	if grep -qx "ExecStart=$p/sbin/dvmq run --config /etc/dvmq/dvmq.conf --socket /run/dvmq/dvmq.sock" \
		"$root$p/lib/systemd/system/dvmq.service"; then
		ok "$name-unit-path"
	else
		bad "$name-unit-path" "$(grep ExecStart "$root$p/lib/systemd/system/dvmq.service")"
	fi
}

if out=$(make --no-print-directory -s install BUILD="$b" PREFIX=/usr DESTDIR="$tmp/usr" 2>&1); then
	check_tree usr "$tmp/usr" /usr
else
	bad usr-install "$out"
fi
if out=$(make --no-print-directory -s install BUILD="$b" PREFIX=/opt/dvmq DESTDIR="$tmp/opt" 2>&1); then
	check_tree opt "$tmp/opt" /opt/dvmq
else
	bad opt-install "$out"
fi
[[ $man ]] || skip man-pages "scdoc is not installed (apt-get install scdoc): no man pages built"

# the unit: systemd's own checks (its ExecStart pointed at the staged binary, which must exist)
unit=$tmp/usr/usr/lib/systemd/system/dvmq.service
if ! command -v systemd-analyze >/dev/null; then
	skip unit-verify "systemd-analyze is not installed"
elif [[ -f $unit ]]; then
	sed "s|^ExecStart=/usr/sbin/dvmq|ExecStart=$tmp/usr/usr/sbin/dvmq|" "$unit" >"$tmp/dvmq.service"
	out=$(cd "$tmp" && systemd-analyze verify --man=no "$tmp/dvmq.service" 2>&1)
	if [[ -z $out ]] && grep -q '^ProtectSystem=strict$' "$unit" && grep -q '^RuntimeDirectory=dvmq$' "$unit" &&
		grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN ' "$unit"; then
		ok unit-verify
	else
		bad unit-verify "$out"
	fi
fi
if [[ $man ]] && command -v man >/dev/null; then
	if MANWIDTH=80 man -l "$tmp/usr/usr/share/man/man8/dvmqctl.8" 2>/dev/null | grep -q 'dvmqctl - inspect and change' &&
		MANWIDTH=80 man -l "$tmp/usr/usr/share/man/man5/dvmq.conf.5" 2>/dev/null | grep -q 'dvmq.conf - the host configuration'; then
		ok man-renders
	else
		bad man-renders "man -l shows no NAME line"
	fi
fi

# make deb: the same files under /usr, compressed man pages, Depends from the binaries
if ! command -v dpkg-deb >/dev/null || ! command -v dpkg-shlibdeps >/dev/null; then
	skip deb "dpkg-dev is not installed (apt-get install dpkg-dev)"
elif out=$(make --no-print-directory -s deb BUILD="$b" 2>&1) && deb=$(tail -1 <<<"$out") && [[ -f $deb ]]; then
	files=$(dpkg-deb -c "$deb" | awk '{print $6}')
	if grep -qx './usr/sbin/dvmqctl' <<<"$files" && grep -qx './usr/lib/systemd/system/dvmq.service' <<<"$files" &&
		grep -qx './usr/share/bash-completion/completions/dvmqctl' <<<"$files" &&
		{ [[ -z $man ]] || { grep -qx './usr/share/man/man8/dvmqctl.8.gz' <<<"$files" &&
			grep -qx './usr/share/man/man5/dvmq.conf.5.gz' <<<"$files"; }; } &&
		dpkg-deb -f "$deb" Depends | grep -q 'libjansson4' && dpkg-deb -I "$deb" postinst | grep -q 'addgroup --system dvmq'; then
		ok deb
	else
		bad deb "$(dpkg-deb -c "$deb"; dpkg-deb -f "$deb" Depends)"
	fi
	rm -f "$deb"
	rm -rf "$b/deb-root"
else
	bad deb "$out"
fi
finish
