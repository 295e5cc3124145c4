#!/bin/sh
# Installs every Debian package sessiontrace needs to build, run, demo and
# test. Idempotent: when everything is present it only runs dpkg-query.
set -eu

PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config
libcmocka-dev binutils curl procps python3 python3-dev python3-pytest
python3-starlette python3-fastapi python3-uvicorn python3-httptools
python3-uvloop python3-itsdangerous python3-multipart gunicorn python3-hypercorn
libmicrohttpd-dev libjson-c-dev prometheus wrk python3-bpfcc linux-headers-amd64
libclang-rt-14-dev util-linux iproute2 libcap-ng-dev libseccomp-dev python3-yaml systemd
libcapstone-dev debootstrap python3-pytest-timeout time universal-ctags git
python3-daphne debhelper dpkg-dev fakeroot lintian scdoc"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "deps: need root to install packages (run with sudo)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# BCC (tests' independent cross-check) compiles against kernel headers; this
# kernel has none of its own. Point its module dir at Debian's newest
# linux-headers-* (build = arch dir, source = common dir) when missing.
kdir=/lib/modules/$(uname -r)
if [ ! -e "$kdir/build" ] || [ ! -e "$kdir/source" ]; then
	arch=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
	common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$arch" ] && [ -n "$common" ]; then
		if [ "$(id -u)" != 0 ]; then
			echo "deps: need root to link $kdir/build to $arch" >&2
			exit 1
		fi
		mkdir -p "$kdir"
		[ -e "$kdir/build" ] || ln -sfn "$arch" "$kdir/build"
		[ -e "$kdir/source" ] || ln -sfn "$common" "$kdir/source"
		echo "deps: $kdir/build -> $arch, source -> $common"
	fi
fi

# Debian 13 and sid root filesystems: their interpreters (python3.13 built by
# GCC 14 and 16, 3.14, 3.15, Starlette 0.46 and 1.x) are tested and benched.
"$(dirname "$0")/rootfs.sh"
