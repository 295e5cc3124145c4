#!/bin/sh
# Verifies user/resolve/layouts.inc against the real headers: every interpreter whose
# headers exist here (patch releases and distro builds included) is
# regenerated and must match its minor version's entry byte for byte.
set -eu
cd "$(dirname "$0")/.."
. scripts/pyheaders.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checked=0 failed=0 skipped=0
for inc in $(pyheaders_list); do
	if [ ! -f "$inc/Python.h" ]; then
		echo "SKIPPED: layout check for $inc: headers not installed"
		skipped=$((skipped + 1))
		continue
	fi
	pyheaders_compile "$inc" "$tmp/pyoffsets" "$tmp"
	# the first line names the patch release; compare the fields
	"$tmp/pyoffsets" | sed 1d >"$tmp/entry"
	if awk -v f="$tmp/entry" 'BEGIN { while ((getline l < f) > 0) want = want l "\n" }
		{ all = all $0 "\n" } END { exit index(all, want) ? 0 : 1 }' user/resolve/layouts.inc; then
		echo "layout ok: $inc"
	else
		echo "LAYOUT MISMATCH: $inc differs from user/resolve/layouts.inc (run make layouts)"
		failed=$((failed + 1))
	fi
	checked=$((checked + 1))
done
# _Py_DebugOffsets field order: regenerated from the headers, must not differ
if scripts/gen-debugoffsets.sh | cmp -s - user/resolve/debugoffsets.inc; then
	echo "debug offsets ok: user/resolve/debugoffsets.inc"
else
	echo "DEBUG OFFSETS MISMATCH: user/resolve/debugoffsets.inc differs from the headers (run make layouts)"
	failed=$((failed + 1))
fi
checked=$((checked + 1))
echo "layouts: $((checked - failed)) passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
