#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package (issue 12 item 5): build it from a copy of the source tree with
# `dpkg-buildpackage -us -uc -b`, require lintian to report no error, unpack every .deb into a
# scratch root and check that the files are where Debian policy puts them and that the
# installed umdevd runs.  Usage: build-deb.sh SOURCE_DIR
set -uo pipefail
src=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/umdev-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

# the tree as it is, without build directories: what git tracks or would track, else all
mkdir "$work/umdev"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$src" ls-files -z -co --exclude-standard |
		(cd "$src" && tar --null -T - -cf -) | tar -x -C "$work/umdev"
else
	tar -C "$src" --exclude='./build*' -cf - . | tar -x -C "$work/umdev"
fi

echo "=== dpkg-buildpackage -us -uc -b"
if ! (cd "$work/umdev" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -40 "$work/build.log"
	echo "FAIL: dpkg-buildpackage"
	exit 1
fi
changes=("$work"/umdev_*.changes)
ls "$work"/*.deb

echo "=== lintian"
lintian --fail-on error "${changes[0]}" >"$work/lintian.log" 2>&1
rc=$?
grep -v 'running with root privileges' "$work/lintian.log"
((rc == 0)) || bad "lintian reports errors (status $rc)"

echo "=== unpacked into a scratch root"
root=$work/root
for deb in "$work"/*.deb; do
	dpkg-deb -x "$deb" "$root" || bad "cannot unpack $deb"
done
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=usr/lib/$triplet
for f in usr/sbin/umdevd usr/bin/umdev-exec lib/systemd/system/umdevd.service \
	"$lib/umdev/drivers/mtty.so" "$lib/libumdev.so.0" "$lib/libumdev.so" \
	"$lib/pkgconfig/umdev.pc" usr/include/umdev/mdev.h usr/include/umdev/module.h \
	usr/share/man/man8/umdevd.8.gz usr/share/man/man1/umdev-exec.1.gz \
	usr/share/man/man7/umdev-mtty.7.gz usr/share/doc/umdev/copyright \
	usr/share/doc/libumdev0/copyright usr/share/doc/libumdev-dev/copyright; do
	[[ -e $root/$f ]] || bad "/$f is missing"
done
[[ -x $root/usr/sbin/umdevd && -x $root/usr/bin/umdev-exec ]] || bad "not executable"
[[ -z $(find "$root" -path '*/usr/local*' -print -quit) ]] || bad "files under /usr/local"
grep -qx 'ExecStart=/usr/sbin/umdevd --foreground' "$root/lib/systemd/system/umdevd.service" ||
	bad "the unit does not run /usr/sbin/umdevd"
for pkg in umdev libumdev0 libumdev-dev; do
	compgen -G "$work/${pkg}_*.deb" >/dev/null || bad "no package $pkg"
done
version=$(cd "$work/umdev" && dpkg-parsechangelog -S Version)
dpkg-deb -f "$work/umdev_${version}_"*.deb Depends | grep -q "libumdev0 (= $version)" ||
	bad "umdev does not depend on libumdev0 (= $version)"

echo "=== the installed umdevd"
out=$(LD_LIBRARY_PATH=$root/$lib "$root/usr/sbin/umdevd" --version) || bad "umdevd --version failed"
echo "$out"
[[ $out == "umdevd $version" ]] || bad "umdevd --version says '$out', not 'umdevd $version'"
out=$(LD_LIBRARY_PATH=$root/$lib "$root/usr/sbin/umdevd" \
	--module-dir "$root/$lib/umdev/drivers" --driver mtty --help) || bad "loading mtty.so failed"
grep -q "^Module mtty ($root/$lib/umdev/drivers/mtty.so)" <<<"$out" ||
	bad "the installed mtty.so was not loaded: $out"
man -l "$root/usr/share/man/man8/umdevd.8.gz" 2>/dev/null | grep -q -- '--mdevctl-config' ||
	bad "umdevd(8) does not render"

((fail == 0)) && echo "the package builds, passes lintian and installs where policy says"
exit $fail
