#!/bin/sh
# SPDX-License-Identifier: MIT
# Every long option of `umdevd --help` and `umdev-exec --help` is in its man page, and every
# parameter of `umdevd --driver mtty --help` in umdev-mtty(7) (issue 12 item 4).
# Usage: check-man-options.sh UMDEVD UMDEV_EXEC MANDIR
set -u
umdevd=$1 exec_=$2 man=$3
fail=0

# check PAGE WORD...: each WORD must appear in PAGE
check() {
	page=$1
	shift
	[ $# -gt 0 ] || { echo "no options found for $page"; fail=1; return; }
	for w in "$@"; do
		if ! grep -qF -- "$w" "$man/$page"; then
			echo "$page: '$w' is not documented"
			fail=1
		fi
	done
}

opts() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }

# shellcheck disable=SC2046 # one word per option
check umdevd.8.scd $("$umdevd" --help | opts)
# shellcheck disable=SC2046
check umdev-exec.1.scd $("$exec_" --help | opts)
# the module's parameters: "  NAME   description" lines after "Parameters"
# shellcheck disable=SC2046
check umdev-mtty.7.scd $("$umdevd" --driver mtty --help |
	sed -n '/^Parameters/,$s/^  \([a-z_]*\) .*/*\1*=/p')
[ $fail -eq 0 ] && echo "every option is documented"
exit $fail
