#!/bin/sh
# Verifies user/layouts.inc against the real headers: every entry whose
# interpreter headers exist here is regenerated and must match byte for byte.
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checked=0 failed=0 skipped=0
for inc in /root/.pyenv/versions/3.10.*/include/python3.10 /usr/include/python3.11 \
	/root/.pyenv/versions/3.11.*/include/python3.11 /root/.pyenv/versions/3.12.*/include/python3.12 \
	/root/.pyenv/versions/3.13.*/include/python3.13; do
	if [ ! -f "$inc/Python.h" ]; then
		echo "SKIPPED: layout check for $inc: headers not installed"
		skipped=$((skipped + 1))
		continue
	fi
	cc -I"$inc" -I"$inc/internal" -o "$tmp/pyoffsets" tools/pyoffsets.c
	# the first line names the patch release; compare the fields
	"$tmp/pyoffsets" | sed 1d >"$tmp/entry"
	if awk -v f="$tmp/entry" 'BEGIN { while ((getline l < f) > 0) want = want l "\n" }
		{ all = all $0 "\n" } END { exit index(all, want) ? 0 : 1 }' user/layouts.inc; then
		echo "layout ok: $inc"
	else
		echo "LAYOUT MISMATCH: $inc differs from user/layouts.inc (run make layouts)"
		failed=$((failed + 1))
	fi
	checked=$((checked + 1))
done
echo "layouts: $((checked - failed)) passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
