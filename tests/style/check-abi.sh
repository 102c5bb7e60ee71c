#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# style suite: the built libumdev keeps the ABI of its baseline (issue 9, item 6;
# abi/README.md). abidiff compares
#   - abi/libumdev.so.N.abi with the library: its exported functions and the types they reach,
#     UMDEV_PRIVATE left out by abi/libumdev.suppr. The baseline holds only the types the
#     public headers define (scripts/update-abi.sh); the core's private types (struct
#     umdev__parent, ...) are declarations there, and a declaration never differs from a
#     definition, so they may change freely. No --headers-dir2 here: at libabigail 2.2 it
#     hides changes to public structs read from the library's DWARF.
#   - abi/umdev-types.abi with TYPES_MODULE (tests/style/abi-types.c): every type the public
#     headers define, those no exported function reaches too (--non-reachable-types);
#     abi/umdev-types.suppr leaves out the system headers' types.
#
# Usage: check-abi.sh SOURCE_ROOT LIBRARY TYPES_MODULE
#
# Exit status, which scripts/update-abi.sh reads too:
#   0  no change (silent), or only added functions, variables and types (reports printed)
#   1  incompatible: abidiff's bit 8 (a removed function or variable; a changed type that no
#      function reaches)
#   2  a changed function, variable or type that abidiff marks with bit 4 only. At libabigail
#      2.2 bit 8 means little more than removed symbols; a field added in the middle of
#      struct umdev_driver is bit 4 ("a human being needs to review"), so the check fails on
#      it and a reviewer decides, with scripts/update-abi.sh, whether it needs a new SONAME.
#   3  abidiff missing, a baseline missing, or abidiff failed (bits 1 and 2, or a crash)
# With several findings the first of 3, 1, 2 in that order wins.
set -uo pipefail
root=$1
lib=$2
types=$3

if ! command -v abidiff >/dev/null; then
	echo "FAIL: abidiff not found: install abigail-tools (scripts/install-deps.sh)" >&2
	exit 3
fi
shopt -s nullglob
baselines=("$root"/abi/libumdev.so.*.abi)
if ((${#baselines[@]} != 1)) || [[ ! -f $root/abi/umdev-types.abi ]]; then
	echo "FAIL: want abi/umdev-types.abi and exactly one abi/libumdev.so.N.abi" >&2
	exit 3
fi
for h in "$root"/include/umdev/*.h; do
	if ! grep -qxF "#include <umdev/${h##*/}>" "$root/tests/style/abi-types.c"; then
		echo "FAIL: tests/style/abi-types.c does not include <umdev/${h##*/}>" >&2
		exit 3
	fi
done

status=0
found() { # STATUS: keep the one that wins (3, then 1, then 2)
	case $status$1 in
	3? | ?0 | 12) ;;
	*) status=$1 ;;
	esac
}

# compare BASELINE BINARY ADDED_ONLY_TEST ABIDIFF ARGS...: one abidiff, classified.
# ADDED_ONLY_TEST tells whether a bit-4 report holds only additions: "rerun" runs abidiff
# again with --no-added-syms (functions and variables), "summary" reads the unreachable
# types' summary line (types, which --no-added-syms does not leave out).
compare() {
	local baseline=$1 bin=$2 how=$3 report rc name
	shift 3
	name="${baseline#"$root"/} -> ${bin##*/}"
	report=$(abidiff "$@" "$baseline" "$bin" 2>&1)
	rc=$?
	((rc == 0)) && return
	if ((rc & 3 || rc > 15)); then
		printf '%s\n' "$report" >&2
		echo "FAIL: abidiff $name failed (exit status $rc)" >&2
		found 3
		return
	fi
	printf '%s\n' "$report"
	if ((rc & 8)); then
		echo "FAIL: incompatible ABI change ($name; abidiff exit status $rc)" >&2
		found 1
		return
	fi
	if [[ $how == rerun ]]; then
		abidiff "$@" --no-added-syms "$baseline" "$bin" >/dev/null 2>&1
		rc=$?
	elif grep -q '^Functions changes summary: 0 Removed, 0 Changed' <<<"$report" &&
		grep -q '^Unreachable types summary: 0 removed, 0 changed' <<<"$report"; then
		rc=0
	fi
	if ((rc == 0)); then
		echo "ABI: compatible additions only ($name); abi/README.md says how to record them"
	elif ((rc & 3 || rc > 15)); then
		echo "FAIL: abidiff --no-added-syms $name failed (exit status $rc)" >&2
		found 3
	else
		echo "FAIL: changed public functions or types ($name; abidiff exit status $rc):" \
			"not known to be compatible, see abi/README.md" >&2
		found 2
	fi
}

# --no-architecture: the baselines are written on x86_64 and hold for the other LP64 targets.
compare "${baselines[0]}" "$lib" rerun \
	--suppressions "$root/abi/libumdev.suppr" --exported-interfaces-only --no-architecture
compare "$root/abi/umdev-types.abi" "$types" summary \
	--suppressions "$root/abi/umdev-types.suppr" --non-reachable-types --no-architecture
exit $status
