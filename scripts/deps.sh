#!/bin/sh
# Installs every Debian package sessiontrace needs to build, run, demo and
# test. Idempotent: when everything is present it only runs dpkg-query.
set -eu

PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config
libcmocka-dev binutils curl procps python3 python3-dev python3-pytest
python3-starlette python3-fastapi python3-uvicorn python3-httptools
python3-uvloop python3-itsdangerous python3-multipart"

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
