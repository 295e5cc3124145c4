#!/bin/sh
# Builds (once) the Debian root filesystems whose interpreters the tests and
# benchmarks run: trixie (Debian 13, python3.13) and sid (python3.13, 3.14,
# 3.15); and bookworm (Debian 12 minbase, no build tool), where the package
# test installs the .deb. Idempotent and cached: a rootfs that finished
# (stamp file present) is left alone.
# Usage: scripts/rootfs.sh [trixie|sid|bookworm]...   (default: all three)
# The cache lives under $ST_ROOTFS (default /var/cache/sessiontrace/rootfs).
set -eu

base=${ST_ROOTFS:-/var/cache/sessiontrace/rootfs}
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*\/debian\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
[ -n "$mirror" ] || { echo "rootfs: no Debian mirror found in /etc/apt" >&2; exit 1; }

PKGS_COMMON=python3,python3-starlette,python3-uvicorn,python3-fastapi,python3-httptools,python3-itsdangerous,python3-multipart,python3-websockets
EXTRA_sid="python3.13 python3.15 libpython3.13-dev libpython3.14-dev libpython3.15-dev"
EXTRA_trixie="libpython3.13-dev"
# the package test: man, and systemd-analyze verify --root of the unit
EXTRA_bookworm="man-db systemd procps"

build() {
	suite=$1
	dir=$base/$suite
	eval extra=\$EXTRA_$suite
	# the stamp says what the tree has: a changed list builds it again
	[ -f "$dir/.sessiontrace-ready" ] &&
		[ "$(cat "$dir/.sessiontrace-ready")" = "$PKGS_COMMON $extra" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "rootfs: need root to build $dir" >&2
		exit 1
	fi
	command -v debootstrap >/dev/null || { echo "rootfs: debootstrap is not installed" >&2; exit 1; }
	echo "rootfs: building $suite in $dir (about a minute)"
	# a half-built tree may still have the tests' mounts (proc, a bind mount
	# of tests/apps): unmount them, and never let rm cross into one
	if [ -d "$dir" ]; then
		findmnt -rn -o TARGET | grep -F "$dir/" | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
	fi
	rm -rf --one-file-system "$dir"
	mkdir -p "$base"
	debootstrap --variant=minbase --include="$PKGS_COMMON" "$suite" "$dir" "$mirror" \
		> "$base/$suite.log" 2>&1 || { echo "rootfs: debootstrap $suite failed, see $base/$suite.log" >&2; exit 1; }
	if [ -n "$extra" ]; then
		# shellcheck disable=SC2086
		chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $extra \
			>> "$base/$suite.log" 2>&1 || { echo "rootfs: installing $extra in $suite failed, see $base/$suite.log" >&2; exit 1; }
	fi
	chroot "$dir" apt-get clean >/dev/null 2>&1 || true
	echo "$PKGS_COMMON $extra" > "$dir/.sessiontrace-ready"
}

[ $# -gt 0 ] || set -- trixie sid bookworm
for s in "$@"; do
	case $s in
	trixie|sid|bookworm) build "$s" ;;
	*) echo "rootfs: unknown suite '$s' (trixie, sid or bookworm)" >&2; exit 2 ;;
	esac
done
