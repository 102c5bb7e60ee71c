#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The test command, run as CI runs it, several times in a row under load (issue 8 §5):
# each run is `bash .ci/run` in a fresh clone of HEAD, while a CPU hog (one busy loop per CPU,
# at normal priority) runs beside it. Stops at the first failing run and keeps its log.
#
#   scripts/soak.sh [RUNS]        default 10; logs in /tmp/umdev-soak/run-N.log
set -uo pipefail
runs=${1:-10}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || exit 1
out=/tmp/umdev-soak
rm -rf "$out"
mkdir -p "$out"

hogs=()
for ((c = 0; c < $(nproc); c++)); do
	(while :; do :; done) &
	hogs+=($!)
done
trap 'kill "${hogs[@]}" 2>/dev/null' EXIT

for ((i = 1; i <= runs; i++)); do
	clone=$(mktemp -d /tmp/umdev-soak-clone.XXXXXX)
	git clone -q "$repo" "$clone/umdev"
	start=$(date +%s)
	if (cd "$clone/umdev" && CI=true bash .ci/run </dev/null) >"$out/run-$i.log" 2>&1; then
		status=ok
	else
		status=FAILED
	fi
	echo "run $i: $status in $(($(date +%s) - start)) s: $(tail -n 1 "$out/run-$i.log")"
	rm -rf "$clone"
	[[ $status == ok ]] || exit 1
done
echo "$runs of $runs runs passed under load"
