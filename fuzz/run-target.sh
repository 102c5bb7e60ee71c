#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# One fuzz target in the 'fuzz' suite (fuzz/meson.build, docs/fuzzing.md):
#   1. replay every input in fuzz/regressions/TARGET/ (each was once a crash; all must pass);
#   2. fuzz for SECONDS from the seed corpus fuzz/corpus/TARGET/ with fuzz/TARGET.dict. New
#      inputs go to BUILDDIR/corpus-TARGET (never into the source tree), crashes to
#      BUILDDIR/artifacts-TARGET/. Options in fuzz/TARGET.options (one a line) are added.
# Fails on any crash, leak, timeout (-timeout) or memory blow-up (-rss_limit_mb).
#
# Usage: run-target.sh EXE TARGET SECONDS SRCDIR BUILDDIR
set -euo pipefail
exe=$1 target=$2 seconds=$3 src=$4 build=$5

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# libFuzzer exits 77 on a crash by default, which meson reads as "skipped": make it fail
opts=(-timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1)
if [[ -f $src/$target.options ]]; then
	mapfile -t extra < <(grep -v '^#' "$src/$target.options")
	opts+=("${extra[@]}")
fi

mapfile -t regressions < <(find "$src/regressions/$target" -type f 2>/dev/null | sort)
if ((${#regressions[@]})); then
	echo "=== $target: replaying ${#regressions[@]} regression inputs"
	"$exe" "${opts[@]}" "${regressions[@]}"
fi

corpus=$build/corpus-$target
artifacts=$build/artifacts-$target
mkdir -p "$corpus" "$artifacts"
echo "=== $target: fuzzing for ${seconds}s"
"$exe" "${opts[@]}" -max_total_time="$seconds" -dict="$src/$target.dict" \
	-artifact_prefix="$artifacts/" "$corpus" "$src/corpus/$target"
