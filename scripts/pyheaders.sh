# Sourced by gen-layouts.sh and check-layouts.sh: every CPython whose headers
# this machine has, and how to compile tools/pyoffsets.c against one.
# Debian's rootfs interpreters (scripts/rootfs.sh) keep pyconfig.h in a
# multiarch directory that their own pyconfig.h includes by name.
ST_ROOTFS=${ST_ROOTFS:-/var/cache/sessiontrace/rootfs}

# One include directory per line; the first of each minor version is the one
# user/resolve/layouts.inc is generated from, the others must give the same entry.
pyheaders_list() {
	for inc in /root/.pyenv/versions/3.10.*/include/python3.10 \
		/usr/include/python3.11 /root/.pyenv/versions/3.11.*/include/python3.11 \
		/root/.pyenv/versions/3.12.*/include/python3.12 \
		/root/.pyenv/versions/3.13.*/include/python3.13 \
		"$ST_ROOTFS"/trixie/usr/include/python3.13 "$ST_ROOTFS"/sid/usr/include/python3.13 \
		"$ST_ROOTFS"/sid/usr/include/python3.14 "$ST_ROOTFS"/sid/usr/include/python3.15; do
		echo "$inc"
	done
}

# pyheaders_compile INCDIR OUT TMPDIR
pyheaders_compile() {
	inc=$1 out=$2 tmp=$3
	root=${inc%/usr/include/*}
	extra=
	if [ "$root" != "$inc" ] && [ -d "$root/usr/include/x86_64-linux-gnu" ]; then
		ver=${inc##*/}
		mkdir -p "$tmp/multiarch/x86_64-linux-gnu"
		ln -sfn "$root/usr/include/x86_64-linux-gnu/$ver" "$tmp/multiarch/x86_64-linux-gnu/$ver"
		extra="-I$tmp/multiarch"
	fi
	# shellcheck disable=SC2086
	cc -I"$inc" -I"$inc/internal" $extra -o "$out" tools/pyoffsets.c
}
