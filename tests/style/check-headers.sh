#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# style suite: each public header compiles alone as strict C11 (STYLE.md §6).
# Usage: check-headers.sh SOURCE_ROOT CC [CC ARGS]...
set -euo pipefail
root=$1
shift
status=0
n=0
for h in "$root"/include/umdev/*.h; do
	n=$((n + 1))
	if ! "$@" -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I "$root/include" \
		-x c "$h"; then
		echo "FAIL: ${h#"$root"/} does not compile alone with -std=c11 -Wpedantic" >&2
		status=1
	fi
done
((n)) || { echo "no public headers found" >&2; exit 1; }
echo "$n public headers checked"
exit $status
