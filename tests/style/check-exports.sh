#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# style suite: libumdev exports exactly its public API (issue 9, item 2; src/lib/libumdev.map).
#   - the umdev_* functions the public headers declare (include/umdev/*.h, preprocessed) are
#     exactly the library's symbols in its public version nodes (every node but UMDEV_PRIVATE);
#   - UMDEV_PRIVATE holds exactly the names the map lists there;
#   - no umdev__* symbol and no unversioned symbol is exported;
#   - the SONAME is libumdev.so.<soversion of src/lib/meson.build>.
# Usage: check-exports.sh SOURCE_ROOT LIBRARY CC [CC ARGS]...
set -euo pipefail
root=$1
lib=$2
shift 2

# Function declarations, after the preprocessor has removed comments and expanded macros:
# top-level statements (brace depth 0) that declare umdev_NAME(...), not typedefs or statics.
declared=$(for h in "$root"/include/umdev/*.h; do
	"$@" -E -P -I "$root/include" -x c "$h"
done | python3 -c '
import re, sys
text = sys.stdin.read()
names, depth, stmt = set(), 0, []
for ch in text:
    if ch == "{":
        if depth == 0:
            stmt.append(";")  # a function body or a struct: its head is the statement
        depth += 1
    elif ch == "}":
        depth -= 1
    elif depth == 0:
        stmt.append(ch)
for decl in "".join(stmt).split(";"):
    decl = " ".join(decl.split())
    if re.match(r"(typedef|static)\b", decl):
        continue
    m = re.search(r"\b(umdev_\w+)\s*\(", decl)
    if m:
        names.add(m.group(1))
print("\n".join(sorted(names)))
')

# node -> names, from the version script
map=$(python3 - "$root/src/lib/libumdev.map" <<'EOF'
import re, sys
text = re.sub(r"/\*.*?\*/", "", open(sys.argv[1]).read(), flags=re.S)
for node, body in re.findall(r"(\w+)\s*\{(.*?)\}[^;]*;", text, flags=re.S):
    body = re.sub(r"local:.*", "", body, flags=re.S)
    for name in re.findall(r"(\w+)\s*;", body):
        print(node, name)
EOF
)
nodes=$(awk '{ print $1 }' <<<"$map" | sort -u)

# NAME@VERSION of every defined dynamic symbol, less the version nodes' own (ABS) symbols
exported=$(readelf --dyn-syms -W "$lib" | awk 'NR > 3 && $7 != "UND" && NF >= 8 { print $8 }' |
	sort -u | grep -vxF -f <(printf '%s\n' $nodes) || true)

status=0
fail() {
	echo "FAIL: $*" >&2
	status=1
}
diffsets() { # WHAT A-NAME A B-NAME B
	local only
	only=$(comm -23 <(printf '%s\n' "$2" | sed '/^$/d' | sort -u) \
		<(printf '%s\n' "$4" | sed '/^$/d' | sort -u))
	[[ -z $only ]] || fail "$1: in $3, not in $5:" $only
	only=$(comm -13 <(printf '%s\n' "$2" | sed '/^$/d' | sort -u) \
		<(printf '%s\n' "$4" | sed '/^$/d' | sort -u))
	[[ -z $only ]] || fail "$1: in $5, not in $3:" $only
}

[[ -n $declared ]] || fail "no umdev_* function found in include/umdev/*.h"
public=$(grep -E '@@?UMDEV_' <<<"$exported" | grep -v '@@\?UMDEV_PRIVATE$' |
	sed 's/@.*//' || true)
diffsets "public functions" "$declared" "include/umdev/*.h" "$public" "${lib##*/}'s public nodes"

private_map=$(awk '$1 == "UMDEV_PRIVATE" { print $2 }' <<<"$map")
private=$(grep -E '@@?UMDEV_PRIVATE$' <<<"$exported" | sed 's/@.*//' || true)
diffsets "UMDEV_PRIVATE" "$private_map" "libumdev.map" "$private" "${lib##*/}"

internal=$(grep -E '^umdev__' <<<"$exported" || true)
[[ -z $internal ]] || fail "internal symbols exported:" $internal
unversioned=$(grep -v '@' <<<"$exported" || true)
[[ -z $unversioned ]] || fail "symbols exported outside the version script's nodes:" $unversioned
other=$(grep '@' <<<"$exported" | grep -vE '@@?UMDEV_' || true)
[[ -z $other ]] || fail "symbols of foreign version nodes:" $other

soversion=$(sed -n "s/^[[:space:]]*soversion: '\([0-9]\+\)',\?$/\1/p" "$root/src/lib/meson.build")
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
[[ $soname == "libumdev.so.$soversion" && -n $soversion ]] ||
	fail "SONAME is '$soname', want libumdev.so.$soversion (soversion in src/lib/meson.build)"

((status)) || echo "$soname: $(wc -w <<<"$public") public and $(wc -w <<<"$private")" \
	"UMDEV_PRIVATE functions, as the headers and the map say"
exit $status
