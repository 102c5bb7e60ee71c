#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# style suite: the module ABI version is the SONAME major (issue 9, abi/README.md):
# UMDEV_ABI_VERSION in include/umdev/module.h equals soversion in src/lib/meson.build, and the
# built library's SONAME is libumdev.so.<soversion>. umdevd refuses modules of another
# UMDEV_ABI_VERSION, so the two numbers must move together.
# Usage: check-abi-version.sh SOURCE_ROOT [LIBRARY]
set -euo pipefail
root=$1
lib=${2:-}

abi=$(sed -n 's/^#define UMDEV_ABI_VERSION \([0-9]\+\)u\?$/\1/p' "$root/include/umdev/module.h")
soversion=$(sed -n "s/^[[:space:]]*soversion: '\([0-9]\+\)',\?$/\1/p" "$root/src/lib/meson.build")
[[ $abi =~ ^[0-9]+$ ]] || { echo "FAIL: no '#define UMDEV_ABI_VERSION N' in include/umdev/module.h" >&2; exit 1; }
[[ $soversion =~ ^[0-9]+$ ]] || { echo "FAIL: no \"soversion: 'N'\" in src/lib/meson.build" >&2; exit 1; }
status=0
if ((abi != soversion)); then
	echo "FAIL: UMDEV_ABI_VERSION is $abi (include/umdev/module.h) but the SONAME major is" \
		"$soversion (src/lib/meson.build)" >&2
	status=1
fi
if [[ -n $lib ]]; then
	soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
	if [[ $soname != "libumdev.so.$soversion" ]]; then
		echo "FAIL: ${lib##*/} has SONAME '$soname', want libumdev.so.$soversion" >&2
		status=1
	fi
fi
((status)) || echo "UMDEV_ABI_VERSION $abi = SONAME major (libumdev.so.$soversion)"
exit $status
