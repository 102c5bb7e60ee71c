#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The test command, run as CI runs it, many times under load (issue 8 §5): each run is
# `bash .ci/run` in a fresh clone at the commit HEAD was when the soak began (later commits
# do not change what the remaining runs test). LANES clones run side by side, so each run has
# another full test run beside it as its CPU-heavy neighbour; HOG=1 adds one busy loop per CPU
# as well. Every run must pass; the first failure stops the lanes and its log is kept.
#
#   scripts/soak.sh [RUNS [LANES]]     defaults 10 and 2; logs in /tmp/umdev-soak/
set -uo pipefail
runs=${1:-10}
lanes=${2:-2}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || exit 1
head=$(git -C "$repo" rev-parse --short HEAD)
out=/tmp/umdev-soak
rm -rf "$out"
mkdir -p "$out"

pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null
}
trap cleanup EXIT

if [[ ${HOG:-0} == 1 ]]; then
	for ((c = 0; c < $(nproc); c++)); do
		(while :; do :; done) &
		pids+=($!)
	done
fi

# lane L: runs L, L + lanes, L + 2 * lanes, ... up to $runs
lane() {
	local i clone start status
	for ((i = $1; i <= runs; i += lanes)); do
		[[ -e $out/failed ]] && return 1
		clone=$(mktemp -d /tmp/umdev-soak-clone.XXXXXX)
		git clone -q "$repo" "$clone/umdev" && git -C "$clone/umdev" checkout -q "$head"
		start=$(date +%s)
		if (cd "$clone/umdev" && CI=true bash .ci/run </dev/null) >"$out/run-$i.log" 2>&1; then
			status=ok
		else
			status=FAILED
			touch "$out/failed"
		fi
		echo "$(date +%T) run $i (lane $1, $head): $status in $(($(date +%s) - start)) s:" \
			"$(tail -n 1 "$out/run-$i.log")"
		rm -rf "$clone"
		[[ $status == ok ]] || return 1
	done
}

for ((l = 1; l <= lanes; l++)); do
	lane "$l" &
	pids+=($!)
done
status=0
for pid in "${pids[@]: -lanes}"; do
	wait "$pid" || status=1
done
if ((status == 0)); then
	echo "$runs of $runs runs of $head passed, $lanes at a time"
else
	echo "a run of $head failed: see $out"
fi
exit $status
