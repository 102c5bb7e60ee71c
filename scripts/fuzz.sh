#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A long fuzzing run (docs/fuzzing.md): configure build-fuzz if needed (clang, libFuzzer,
# ASan + UBSan), build the fuzz targets, and run each named target (default: all) for SECONDS
# (default 300), one process each, one after the other. The corpus of each target grows in
# build-fuzz/fuzz/corpus-TARGET (also used by the 'fuzz' suite), crashes land in
# build-fuzz/fuzz/artifacts-TARGET/, the log in build-fuzz/fuzz/long-TARGET.log. Prints
# libFuzzer's final figures per target; exits non-zero if a target crashed.
#
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]     e.g. scripts/fuzz.sh 600 vfio_user
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-300}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(vfio_user vfio_handle sysfs_write)
build=build-fuzz

if [[ ! -d $build/meson-private ]]; then
	CC=clang meson setup "$build" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false || exit 1
fi
ninja -C "$build" "${targets[@]/#/fuzz/fuzz_}" || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for t in "${targets[@]}"; do
	dir=$build/fuzz
	corpus=$dir/corpus-$t
	artifacts=$dir/artifacts-$t
	log=$dir/long-$t.log
	extra=()
	[[ -f fuzz/$t.options ]] && mapfile -t extra < <(grep -v '^#' "fuzz/$t.options")
	mkdir -p "$corpus" "$artifacts"
	echo "=== $t: ${seconds}s, log $log"
	"$dir/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
		-print_final_stats=1 -dict="fuzz/$t.dict" -artifact_prefix="$artifacts/" \
		"${extra[@]}" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log"
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log"
	nr_corpus=$(find "$corpus" -type f | wc -l)
	nr_crashes=$(find "$artifacts" -type f | wc -l)
	echo "corpus: $nr_corpus files; artifacts: $nr_crashes; exit status $rc"
	((rc == 0)) || status=1
done
exit $status
