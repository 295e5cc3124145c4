#!/bin/sh
# Verifies user/resolve/layouts.inc against the real headers: every interpreter whose
# headers exist here (patch releases and distro builds included) is
# regenerated and must match its minor version's entry byte for byte. The same
# for the opcode tables of user/decode/bytecode.inc (scripts/gen-bytecode.sh).
set -eu
cd "$(dirname "$0")/.."
. scripts/pyheaders.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checked=0 failed=0 skipped=0
# entry_in ENTRYFILE FILE: is the entry, line for line, somewhere in FILE?
entry_in() {
	awk -v f="$1" 'BEGIN { while ((getline l < f) > 0) want = want l "\n" }
		{ all = all $0 "\n" } END { exit index(all, want) ? 0 : 1 }' "$2"
}
# check_entry ENTRYFILE FILE INCDIR: one interpreter's entry must be in FILE
check_entry() {
	if entry_in "$1" "$2"; then
		echo "ok: $3 in $2"
	else
		echo "MISMATCH: $3 differs from $2 (run make layouts)"
		failed=$((failed + 1))
	fi
	checked=$((checked + 1))
}
# same GENERATOR FILE: the generator's whole output is FILE, byte for byte
same() {
	if $1 | cmp -s - "$2"; then
		echo "ok: $2"
	else
		echo "MISMATCH: $2 differs from what $1 generates now (run make layouts)"
		failed=$((failed + 1))
	fi
	checked=$((checked + 1))
}
for inc in $(pyheaders_list); do
	if [ ! -f "$inc/Python.h" ]; then
		echo "SKIPPED: layout check for $inc: headers not installed"
		skipped=$((skipped + 1))
		continue
	fi
	pyheaders_compile "$inc" "$tmp/pyoffsets" "$tmp"
	# the first line names the patch release; compare the fields
	"$tmp/pyoffsets" | sed 1d >"$tmp/entry"
	check_entry "$tmp/entry" user/resolve/layouts.inc "$inc"
	# its opcode tables: the entry of its minor version in user/decode/bytecode.inc
	scripts/gen-bytecode.sh "$inc" | sed 1d >"$tmp/bcentry"
	check_entry "$tmp/bcentry" user/decode/bytecode.inc "$inc"
done
# _Py_DebugOffsets field order and the opcode tables of every minor version,
# regenerated from the headers, must not differ
same scripts/gen-debugoffsets.sh user/resolve/debugoffsets.inc
same scripts/gen-bytecode.sh user/decode/bytecode.inc
echo "layouts: $((checked - failed)) passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
