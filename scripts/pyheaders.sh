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

# pyheaders_compile INCDIR OUT TMPDIR [SRC [CFLAGS...]]: SRC (default
# tools/pyoffsets.c) compiled against the headers in INCDIR.
pyheaders_compile() {
	inc=$1 out=$2 tmp=$3 src=${4:-tools/pyoffsets.c}
	[ $# -ge 4 ] && shift 4 || shift 3
	root=${inc%/usr/include/*}
	extra=
	if [ "$root" != "$inc" ] && [ -d "$root/usr/include/x86_64-linux-gnu" ]; then
		ver=${inc##*/}
		mkdir -p "$tmp/multiarch/x86_64-linux-gnu"
		ln -sfn "$root/usr/include/x86_64-linux-gnu/$ver" "$tmp/multiarch/x86_64-linux-gnu/$ver"
		extra="-I$tmp/multiarch"
	fi
	# shellcheck disable=SC2086
	cc "$@" -I"$inc" -I"$inc/internal" $extra -o "$out" "$src"
}

# pyheaders_per_minor FN: FN INCDIR for the first include directory of each
# minor version (the one the generated tables come from); fails when one of
# 3.10 to 3.15 has no headers here.
pyheaders_per_minor() {
	fn=$1 done_minors=" "
	for inc in $(pyheaders_list); do
		minor=${inc##*/}
		case $done_minors in *" $minor "*) continue ;; esac
		[ -f "$inc/Python.h" ] || continue
		"$fn" "$inc"
		done_minors="$done_minors$minor "
	done
	for want in python3.10 python3.11 python3.12 python3.13 python3.14 python3.15; do
		case $done_minors in *" $want "*) ;; *) echo "no headers for $want" >&2; return 1 ;; esac
	done
}
