#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The test command (README, .ci/run): install the dependencies, build four configurations
# and run the meson test suites each one is for (STYLE.md §7, §9):
#
#   build       plain, -Dwerror=true     unit tree style functional interop package
#   build-asan  ASan + UBSan             unit tree functional
#   build-tsan  TSan                     stress unit vfio
#   build-fuzz  clang, libFuzzer, ASan + UBSan   fuzz (about a minute; docs/fuzzing.md)
#
# Suites without tests are skipped, so the table can name suites before they exist. Failing
# tests' logs are printed. The last line is "N passed, M failed", counted from each run's
# meson test log; the exit status is non-zero on any failure (a failed build counts as one).
set -uo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh || exit 1

export ASAN_OPTIONS=halt_on_error=1:print_stacktrace=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"

# name | meson options, after any VAR=value words for meson's environment (CC=clang) | suites
configs=(
	"build|-Dwerror=true|unit tree vfio style functional interop package unit@valgrind vfio@valgrind"
	"build-asan|-Db_sanitize=address,undefined -Db_lundef=false|unit tree vfio functional"
	"build-tsan|-Db_sanitize=thread|stress unit vfio"
	"build-fuzz|CC=clang -Dwerror=true -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined -Db_lundef=false|fuzz"
)

passed=0
failed=0
skipped=0

# count LOGFILE: add the results of one meson test log (JSON lines) to the totals
count() {
	local p f s
	read -r p f s < <(python3 - "$1" <<'EOF'
import json, sys
p = f = s = 0
with open(sys.argv[1]) as log:
    for line in log:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
        else:
            f += 1
print(p, f, s)
EOF
	) || { failed=$((failed + 1)); return; }
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

# Sanitized binaries may not map their shadow memory with a high mmap randomisation (TSan on
# kernels >= 6.5 with 32 random bits): run them with ASLR off when setarch can do it.
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
	norandom=(setarch "$(uname -m)" -R)
fi

for entry in "${configs[@]}"; do
	IFS='|' read -r dir opts suites <<<"$entry"
	echo "=== $dir: configure and build ($opts)"
	# leading VAR=value words are meson's environment (the compiler is chosen at setup)
	envs=()
	read -ra words <<<"$opts"
	while ((${#words[@]})) && [[ ${words[0]} == [A-Z]*=* ]]; do
		envs+=("${words[0]}")
		words=("${words[@]:1}")
	done
	if [[ -d $dir/meson-private ]]; then
		setup=(env "${envs[@]}" meson setup --reconfigure "$dir" "${words[@]}")
	else
		setup=(env "${envs[@]}" meson setup "$dir" "${words[@]}")
	fi
	if ! "${setup[@]}" || ! ninja -C "$dir"; then
		echo "=== $dir: BUILD FAILED"
		failed=$((failed + 1))
		continue
	fi
	for suite in $suites; do
		# SUITE@SETUP: the suite under a meson test setup (valgrind: plain builds only)
		setup_args=()
		if [[ $suite == *@* ]]; then
			setup_args=(--setup "${suite#*@}")
			suite=${suite%@*}
		fi
		if ! meson test -C "$dir" --no-rebuild --list --suite "$suite" >/dev/null 2>&1; then
			echo "=== $dir: suite '$suite' has no tests, skipped"
			continue
		fi
		echo "=== $dir: suite '$suite' ${setup_args[*]}"
		log=testlog-$suite
		# meson adds the setup's name to the log base
		json=$dir/meson-logs/$log${setup_args[1]:+-${setup_args[1]}}.json
		rm -f "$json"
		"${norandom[@]}" meson test -C "$dir" --no-rebuild --suite "$suite" "${setup_args[@]}" --logbase "$log" \
			--print-errorlogs
		if [[ -f $json ]]; then
			count "$json"
		else
			echo "=== $dir: suite '$suite' left no test log"
			failed=$((failed + 1))
		fi
	done
done

((skipped == 0)) || echo "($skipped skipped)"
echo "$passed passed, $failed failed"
((failed == 0))
