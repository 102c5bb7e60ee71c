#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# style suite: every C source and header of the tree is clang-formatted (STYLE.md §9).
# Usage: check-format.sh CLANG_FORMAT SOURCE_ROOT
set -euo pipefail
clang_format=$1
cd "$2"
mapfile -d '' files < <(find src include tests bench fuzz examples -type f \
	\( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
((${#files[@]})) || { echo "no C files found" >&2; exit 1; }
"$clang_format" --dry-run --Werror "${files[@]}"
echo "${#files[@]} files clang-formatted"
