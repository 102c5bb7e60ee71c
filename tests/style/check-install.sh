#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# style suite: `meson install` lays out the SDK and the daemon where the build's options say
# (issue 9, item 2): the prefix, bindir, sbindir, libdir and includedir configured for this
# build, read back with `meson introspect --buildoptions`. A layout check only; building a
# driver against the installed SDK is tests/interop/test_sdk.py's.
# Usage: check-install.sh MESON SOURCE_ROOT BUILD_ROOT
set -euo pipefail
meson=$1
root=$2
build=$3

destdir=$(mktemp -d)
trap 'rm -rf "$destdir"' EXIT
if ! "$meson" install -C "$build" --no-rebuild --destdir "$destdir" --quiet >"$destdir.log" 2>&1; then
	cat "$destdir.log" >&2
	rm -f "$destdir.log"
	echo "FAIL: meson install --destdir failed" >&2
	exit 1
fi
rm -f "$destdir.log"

# name=value for prefix, bindir, sbindir, libdir, includedir
eval "$("$meson" introspect --buildoptions "$build" | python3 -c '
import json, shlex, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
for k in ("prefix", "bindir", "sbindir", "libdir", "includedir"):
    print("%s=%s" % (k, shlex.quote(opts[k])))
')"
dir() { # OPTION VALUE: the installed path of a directory option (relative means under prefix)
	[[ $1 == /* ]] && echo "$destdir$1" || echo "$destdir$prefix/$1"
}
bin=$(dir "$bindir")
sbin=$(dir "$sbindir")
lib=$(dir "$libdir")
inc=$(dir "$includedir")

status=0
fail() {
	echo "FAIL: $*" >&2
	status=1
}
want_exe() {
	[[ -f $1 && -x $1 ]] || fail "no executable ${1#"$destdir"}"
}
want_file() {
	[[ -f $1 ]] || fail "no file ${1#"$destdir"}"
}

want_exe "$sbin/umdevd"
want_exe "$bin/umdev-exec"
[[ ! -e $bin/umdevd ]] || fail "umdevd installed in bindir too; it belongs in sbindir"
want_file "$lib/libumdev.so.0"
[[ -L $lib/libumdev.so ]] || fail "no development symlink ${lib#"$destdir"}/libumdev.so"
[[ $(readlink -f "$lib/libumdev.so") == "$(readlink -f "$lib/libumdev.so.0")" ]] ||
	fail "libumdev.so and libumdev.so.0 name different files"
want_file "$lib/umdev/drivers/mtty.so"
want_file "$lib/umdev/drivers/mbochs.so"
want_file "$lib/pkgconfig/umdev.pc"
if [[ -f $lib/pkgconfig/umdev.pc ]]; then
	grep -qxF "prefix=$prefix" "$lib/pkgconfig/umdev.pc" ||
		fail "umdev.pc: no line prefix=$prefix"
fi
# every public header, and nothing else, under includedir/umdev
want=$(cd "$root/include/umdev" && ls -- *.h)
have=$(cd "$inc/umdev" 2>/dev/null && ls -- *.h || true)
[[ $want == "$have" ]] || fail "${inc#"$destdir"}/umdev holds [$(echo $have)], want [$(echo $want)]"

((status)) || echo "installed: $prefix: $sbindir/umdevd, $bindir/umdev-exec, $libdir/libumdev.so{,.0}," \
	"$libdir/umdev/drivers/{mtty,mbochs}.so, $libdir/pkgconfig/umdev.pc, $includedir/umdev/{$(echo $want | tr ' ' ,)}"
exit $status
