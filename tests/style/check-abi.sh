#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# style suite: the built libumdev keeps the ABI of its baseline, abi/libumdev.so.N.abi
# (issue 9, item 6; abi/README.md). abidiff compares the two, with abi/libumdev.suppr leaving
# out the functions of version node UMDEV_PRIVATE. The baseline holds only the types the
# public headers define (scripts/update-abi.sh); the core's private types (struct
# umdev__parent, ...) are declarations there, and a declaration never differs from a
# definition, so they may change freely. abidiff gets no --headers-dir2 here: at
# libabigail 2.2 it hides changes to public structs read from the library's DWARF.
#
# Usage: check-abi.sh SOURCE_ROOT LIBRARY
#
# Exit status, which scripts/update-abi.sh reads too:
#   0  no change (silent), or only added functions and variables (the report is printed)
#   1  incompatible: abidiff's bit 8, a removed function or variable
#   2  a changed function, variable or public type: abidiff's bit 4 beyond additions. At
#      libabigail 2.2 bit 8 means removed symbols only; a field added in the middle of a
#      struct is bit 4 ("a human being needs to review"), so the check fails on it and a
#      reviewer decides, with scripts/update-abi.sh, whether it needs a new SONAME.
#   3  abidiff missing, no baseline, or abidiff failed (bits 1 and 2, or a crash)
set -uo pipefail
root=$1
lib=$2

if ! command -v abidiff >/dev/null; then
	echo "FAIL: abidiff not found: install abigail-tools (scripts/install-deps.sh)" >&2
	exit 3
fi
shopt -s nullglob
baselines=("$root"/abi/libumdev.so.*.abi)
if ((${#baselines[@]} != 1)); then
	echo "FAIL: want exactly one baseline abi/libumdev.so.N.abi, found ${#baselines[@]}" >&2
	exit 3
fi
baseline=${baselines[0]}

# --no-architecture: the baseline is written on x86_64 and holds for the other LP64 targets.
abidiff_args=(--suppressions "$root/abi/libumdev.suppr" --exported-interfaces-only
	--no-architecture)

report=$(abidiff "${abidiff_args[@]}" "$baseline" "$lib" 2>&1)
rc=$?
((rc == 0)) && exit 0

name="${baseline#"$root"/} -> ${lib##*/}"
if ((rc & 3 || rc > 15)); then
	printf '%s\n' "$report" >&2
	echo "FAIL: abidiff $name failed (exit status $rc)" >&2
	exit 3
fi
printf '%s\n' "$report"
if ((rc & 8)); then
	echo "FAIL: incompatible ABI change ($name; abidiff exit status $rc)" >&2
	exit 1
fi
# Bit 4 alone: compatible only if nothing but additions remains once they are left out.
report=$(abidiff "${abidiff_args[@]}" --no-added-syms "$baseline" "$lib" 2>&1)
rc=$?
if ((rc == 0)); then
	echo "ABI: compatible additions only ($name); abi/README.md says how to record them"
	exit 0
fi
if ((rc & 3 || rc > 15)); then
	printf '%s\n' "$report" >&2
	echo "FAIL: abidiff --no-added-syms $name failed (exit status $rc)" >&2
	exit 3
fi
echo "FAIL: changed public functions or types ($name; abidiff exit status $rc):" \
	"not known to be compatible, see abi/README.md" >&2
exit 2
