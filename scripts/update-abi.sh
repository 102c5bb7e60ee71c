#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Write libumdev's ABI baseline from a build: abi/libumdev.so.N.abi from the library,
# abi/umdev-types.abi from tests/style/abi-types.c's module (every public type), and record the
# project version they belong to in abi/VERSION (abi/README.md, issue 9 item 6). Run it in the
# commit that bumps the version in meson.build:
#
#   scripts/update-abi.sh [--reviewed-compatible] [BUILDDIR]     (BUILDDIR: build)
#
# Refuses, changing nothing, unless
#   - the version in meson.build differs from abi/VERSION;
#   - UMDEV_ABI_VERSION (include/umdev/module.h) equals the SONAME major (soversion in
#     src/lib/meson.build), which is the built library's;
#   - tests/style/check-abi.sh finds no incompatible change against the current baseline, or
#     the SONAME major differs from the baseline's. A changed public function or type
#     (check-abi.sh status 2) may keep the SONAME with --reviewed-compatible, when a reviewer
#     has read abidiff's report and found it compatible; a removed one (status 1) never does.
set -euo pipefail
cd "$(dirname "$0")/.."

reviewed=false
if [[ ${1:-} == --reviewed-compatible ]]; then
	reviewed=true
	shift
fi
build=${1:-build}
die() {
	echo "update-abi: $*" >&2
	exit 1
}

command -v abidw >/dev/null || die "abidw not found: install abigail-tools (scripts/install-deps.sh)"
[[ -f $build/meson-private/coredata.dat ]] || die "$build is not a meson build directory"
ninja -C "$build" >/dev/null || die "ninja -C $build failed"
lib=$build/src/lib/libumdev.so
types=$build/tests/style/umdev-abi-types.so
[[ -e $lib ]] || die "$lib not built"
[[ -e $types ]] || die "$types not built (configure $build with -Dtests=true)"

version=$(meson introspect --projectinfo "$build" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
recorded=$(cat abi/VERSION 2>/dev/null || true)
[[ $version != "$recorded" ]] ||
	die "the baseline already belongs to $version: bump the version in meson.build first"

tests/style/check-abi-version.sh . "$lib" || die "fix the ABI version first"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
major=${soname#libumdev.so.}
new=abi/$soname.abi

shopt -s nullglob
old=(abi/libumdev.so.*.abi)
if ((${#old[@]})); then
	old_major=${old[0]#abi/libumdev.so.}
	old_major=${old_major%.abi}
	status=0
	tests/style/check-abi.sh . "$lib" "$types" || status=$?
	case $status in
	0) ;;
	1 | 2)
		if [[ $major == "$old_major" ]] && ! { ((status == 2)) && $reviewed; }; then
			die "incompatible change with the SONAME still libumdev.so.$major: raise" \
				"soversion in src/lib/meson.build and UMDEV_ABI_VERSION in" \
				"include/umdev/module.h" \
				"$( ((status == 2)) && echo '(or, once reviewed as compatible, --reviewed-compatible)')"
		fi
		;;
	*) die "the ABI check failed" ;;
	esac
fi

# abidw does not apply abi/libumdev.suppr's symbol_version (libabigail 2.2): drop the
# UMDEV_PRIVATE functions by name, as the built library exports them.
suppr=$(mktemp)
trap 'rm -f "$suppr"' EXIT
private=$(readelf --dyn-syms -W "$lib" | awk '$7 != "UND" && $8 ~ /@@?UMDEV_PRIVATE$/ {
	sub(/@.*/, "", $8); printf "%s%s", sep, $8; sep = "|" }')
if [[ -n $private ]]; then
	printf '[suppress_function]\n  symbol_name_regexp = ^(%s)$\n  drop = yes\n' "$private" >"$suppr"
fi

# What counts is what tests/style/check-abi.sh reads: the exported functions and the public
# headers' types they reach, and every type of the public headers. No locations, paths or
# sequence ids, so the files only change with the ABI and a diff of them reads as one.
common=(--headers-dir include/umdev --drop-private-types --no-show-locs --no-comp-dir-path
	--no-corpus-path --no-elf-needed --type-id-style hash)
abidw "${common[@]}" --exported-interfaces-only --suppressions "$suppr" \
	--out-file "$new.tmp" "$lib"
abidw "${common[@]}" --load-all-types --out-file abi/umdev-types.abi.tmp "$types"
mv "$new.tmp" "$new"
mv abi/umdev-types.abi.tmp abi/umdev-types.abi
for f in "${old[@]}"; do
	[[ $f == "$new" ]] || rm -- "$f"
done
echo "$version" >abi/VERSION
tests/style/check-abi.sh . "$lib" "$types" >/dev/null || die "the new baseline does not match the build"
echo "update-abi: $new and abi/umdev-types.abi written for umdev $version;" \
	"commit abi/ with the version bump"
