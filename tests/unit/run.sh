#!/bin/sh
# Run the unit test binaries given as arguments, from the repository root:
#   tests/unit/run.sh build/tests/test_a build/tests/test_b ...
# First writes line-table fixtures (tests/unit/gen_lines.py) with every
# CPython found among LINETABLE_PYTHONS (default: Debian's python3.11
# and the pyenv 3.10 to 3.13), so that test_linetable compares against what
# each of them reports (LINETABLE_FIXTURES). Runs every binary even after a
# failure; exits non-zero if any failed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fixdir=${FIXTURE_DIR:-build/tests/fixtures}
pyenv=${PYENV_ROOT:-/root/.pyenv}
rootfs=${ST_ROOTFS:-/var/cache/sessiontrace/rootfs}
LINETABLE_PYTHONS=${LINETABLE_PYTHONS:-"/usr/bin/python3.11 3.10 3.11 3.12 3.13
$rootfs/trixie:/usr/bin/python3.13 $rootfs/sid:/usr/bin/python3.13
$rootfs/sid:/usr/bin/python3.14 $rootfs/sid:/usr/bin/python3.15"}

mkdir -p "$fixdir"
fixtures=""
failed=0

for spec in $LINETABLE_PYTHONS; do
	root=""
	case $spec in
	/*:/*)
		# ROOTFS:PYTHON: a distro interpreter in scripts/rootfs.sh's tree
		root=${spec%%:*}
		py=${spec#*:}
		label=$(basename "$root")-$(basename "$py")
		;;
	/*)
		py=$spec
		label=$(basename "$spec")-system
		;;
	*)
		# newest pyenv install of that minor version, if any
		py=""
		for d in "$pyenv"/versions/"$spec".*; do
			[ -x "$d/bin/python$spec" ] && py=$d/bin/python$spec
		done
		label=pyenv-$spec
		;;
	esac
	if [ -z "$py" ] || [ ! -x "$root$py" ]; then
		echo "SKIPPED: linetable fixture for $spec: interpreter not found"
		continue
	fi
	out=$fixdir/lines-$label.txt
	if [ -n "$root" ]; then
		mkdir -p "$root/tmp/st-lines"
		cp "$here/gen_lines.py" "$root/tmp/st-lines/"
		if tok=$(chroot "$root" "$py" /tmp/st-lines/gen_lines.py /tmp/st-lines/out.txt) &&
		   cp "$root/tmp/st-lines/out.txt" "$out"; then
			fixtures="$fixtures ${tok%%:*}:$out"
		else
			echo "FAILED: linetable fixture for $spec"
			failed=$((failed + 1))
		fi
		rm -rf "$root/tmp/st-lines"
	elif tok=$("$py" "$here/gen_lines.py" "$out"); then
		fixtures="$fixtures $tok"
	else
		echo "FAILED: linetable fixture for $spec ($py)"
		failed=$((failed + 1))
	fi
done

LINETABLE_FIXTURES=${fixtures# }
export LINETABLE_FIXTURES

passed=0
for t in "$@"; do
	echo "== $t"
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "FAILED: $t"
		failed=$((failed + 1))
	fi
done

echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
