#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what building, running and testing umdev needs on Debian 12 (run as root).
# Skips apt when every package is already installed.
set -euo pipefail

packages=(
	build-essential gcc meson ninja-build pkg-config
	libfuse3-dev fuse3 uuid-dev libcmocka-dev libjson-c-dev libsystemd-dev scdoc
	python3 python3-pytest mdevctl util-linux clang-format valgrind
	debootstrap
	abigail-tools # abidw, abidiff: the ABI check (tests/style/check-abi.sh, abi/README.md)
	systemd strace # tests/functional/test_systemd.py: systemd-analyze, the unit's filter
	debhelper lintian # tests/package: the Debian package
	clang libclang-rt-14-dev # build-fuzz: libclang_rt.fuzzer is only recommended by clang
	libpng-dev # src/drivers/mbochs: screen.png
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || status=
	[[ $status == installed ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
if ((EUID != 0)); then
	echo "install-deps: must run as root to install packages" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
