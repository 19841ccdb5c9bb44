#!/bin/sh
# SPDX-License-Identifier: MIT
# gen-symbols.sh LIBRARY: prints the symbols file (deb-symbols(5)) of the runtime package for a
# built libdmacoh.so: every symbol it exports, in its version node DMACOH_<SONAME version>
# (cmake/dmacoh.map.in), with the version that introduced it. A symbol already listed in
# debian/<package>.symbols keeps its version there; a new one gets the upstream version of
# include/dmacoh/dmacoh.h. debian/rules builds with DPKG_GENSYMBOLS_CHECK_LEVEL=4, so a library
# that exports anything else than the committed file lists fails the build: regenerate with
#   debian/gen-symbols.sh debian/tmp/usr/lib/<multiarch>/libdmacoh.so > debian/<package>.symbols
# after checking that the change to the ABI is meant (a removed symbol needs a new SONAME).
set -eu
lib=${1:?usage: debian/gen-symbols.sh LIBRARY}
cd "$(dirname "$0")/.."
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
pkg=libdmacoh${soname#libdmacoh.so.}
node=DMACOH_${soname#libdmacoh.so.}
version=$(sed -n 's/^#define DMACOH_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9][0-9]*\)$/\2/p' \
    include/dmacoh/dmacoh.h | paste -sd.)
old=debian/$pkg.symbols
[ -f "$old" ] || old=/dev/null

echo "$soname $pkg #MINVER#"
echo "* Build-Depends-Package: libdmacoh-dev"
# nm writes name@@NODE for a symbol's default version; a symbols file writes name@NODE. The node
# itself is an absolute symbol (type A) named after itself.
nm -D --defined-only --format=posix "$lib" |
    awk -v node="$node" '{ sub(/@@/, "@", $1); if ($1 == node) $1 = node "@" node; print $1 }' |
    LC_ALL=C sort -u |
    while read -r sym; do
        case "$sym" in
        *"@$node") ;;
        *)
            echo "gen-symbols.sh: $sym is not in the version node $node" >&2
            exit 1
            ;;
        esac
        was=$(awk -v s="$sym" '$1 == s { print $2; exit }' "$old")
        echo " $sym ${was:-$version}"
    done
