#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# sid-chroot.sh - print the path of a Debian sid chroot holding QEMU, a kernel and BusyBox,
# building it first if no finished one is cached (issue 5; /work/shared/notes/qemu-vfio-user.md).
#
# The chroot comes from Debian's archive only (debootstrap, minbase, the mirror this machine's
# apt sources name). It is cached as $UMDEV_CACHE_DIR/sid-<key> (default /var/cache/umdev), where
# <key> hashes everything that decides what is installed: the suite, variant, package list,
# architecture, mirror and this recipe's version. A build happens in a temporary directory next
# to the cache entry and is renamed into place only after it passed its checks, so an
# interrupted build never counts as cached; leftovers of such builds are removed by the next
# build. Concurrent callers serialize on a lock file. Set UMDEV_SID_REBUILD=1 to build afresh
# (the old entry is replaced atomically only once the new one is complete).
#
# Output: the chroot's path on stdout; progress on stderr. Needs root and debootstrap.
set -euo pipefail

prog=sid-chroot
recipe=1	# bump when the build steps below change what a chroot holds
suite=sid
variant=minbase
include=qemu-system-x86,linux-image-amd64,busybox-static
cache=${UMDEV_CACHE_DIR:-/var/cache/umdev}

die() {
	echo "$prog: $*" >&2
	exit 1
}

# The Debian mirror of this machine's apt sources (deb822 or one-line form), else Debian's CDN.
mirror() {
	local m
	m=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v -- '-security' | head -n1 |
		tr -d ' ') || true
	echo "${m:-http://deb.debian.org/debian}"
}

(( EUID == 0 )) || die "needs root (debootstrap, chroot)"
mirror=${UMDEV_DEBIAN_MIRROR:-$(mirror)}
mirror=${mirror%/}
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
key=$(printf '%s\n' "recipe=$recipe" "suite=$suite" "variant=$variant" "include=$include" \
	"arch=$arch" "mirror=$mirror" | sha256sum | cut -c1-12)
dir=$cache/$suite-$key

# A finished chroot: it has the stamp written last by the build below.
finished() {
	[[ -f $1/umdev-chroot.info ]]
}

mkdir -p "$cache"
exec 9>"$cache/.$suite-$key.lock"
flock 9	# held until we exit; a concurrent build finishes before we look

if finished "$dir" && [[ ${UMDEV_SID_REBUILD:-0} != 1 ]]; then
	echo "$prog: reusing $dir" >&2
	echo "$dir"
	exit 0
fi

command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/install-deps.sh)"
# Leftovers of interrupted builds. debootstrap mounts proc and sysfs in its target; it runs in a
# private mount namespace (below), so those mounts end with it, and --one-file-system keeps
# rm out of any mount that might still be there.
rm -rf --one-file-system "$cache/.$suite-$key.tmp."*
tmp=$(mktemp -d "$cache/.$suite-$key.tmp.XXXXXX")
trap 'rm -rf --one-file-system "$tmp"' EXIT
start=$(date +%s)
echo "$prog: building $dir from $mirror (debootstrap $suite, a few minutes)" >&2
if ! unshare --mount --propagation private \
	debootstrap --variant="$variant" --include="$include" "$suite" "$tmp/root" "$mirror" \
	>"$tmp/debootstrap.log" 2>&1; then
	tail -n 30 "$tmp/debootstrap.log" >&2
	[[ -f $tmp/root/debootstrap/debootstrap.log ]] &&
		tail -n 30 "$tmp/root/debootstrap/debootstrap.log" >&2
	die "debootstrap failed"
fi
root=$tmp/root

# Checks: what the harness relies on is there.
ls "$root"/boot/vmlinuz-* >/dev/null 2>&1 || die "no kernel in $root/boot"
[[ -x $root/bin/busybox ]] || die "no busybox in the chroot"
devices=$(chroot "$root" qemu-system-x86_64 -device help 2>&1) || true
[[ $devices == *'"vfio-user-pci"'* ]] || die "the chroot's QEMU has no vfio-user-pci device"

{
	echo "key $key"
	echo "recipe $recipe"
	echo "suite $suite"
	echo "mirror $mirror"
	echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(( $(date +%s) - start )) s"
	chroot "$root" dpkg-query -W qemu-system-x86 linux-image-amd64 busybox-static
} >"$root/umdev-chroot.info"

# Replace atomically: a reader sees the old finished chroot or the new one, never a half one.
if [[ -e $dir ]]; then
	mv -T "$dir" "$tmp/old"
fi
mv -T "$root" "$dir"
echo "$prog: built $dir in $(( $(date +%s) - start )) s" >&2
echo "$dir"
