#!/bin/sh
# SPDX-License-Identifier: MIT
# The facts the packaging repeats from the sources, checked against them (debian/rules runs it;
# so does scripts/package-test.sh, before it builds anything):
#   consistency.sh version      the upstream part of debian/changelog's version is the version of
#                               include/dmacoh/dmacoh.h (DMACOH_VERSION_MAJOR.MINOR.PATCH)
#   consistency.sh soname LIB   the runtime package is named after LIB's SONAME (Debian policy
#                               8.1: libdmacoh.so.0.4 -> libdmacoh0.4), it is in debian/control,
#                               and its .install and .symbols files are named after it and
#                               name that SONAME and its symbol version node, and the symbols
#                               file lists exactly what LIB exports (debian/gen-symbols.sh)
# Exit 0 when all agree; otherwise 1, with one line per disagreement on stderr.
set -eu
cd "$(dirname "$0")/.."

fail=0
no() {
    echo "debian/consistency.sh: $*" >&2
    fail=1
}

header_version() {
    for part in MAJOR MINOR PATCH; do
        v=$(sed -n "s/^#define DMACOH_VERSION_$part \([0-9][0-9]*\)\$/\1/p" include/dmacoh/dmacoh.h)
        [ -n "$v" ] || { no "include/dmacoh/dmacoh.h has no DMACOH_VERSION_$part"; return; }
        printf '%s%s' "${sep:-}" "$v"
        sep=.
    done
}

case "${1:-}" in
version)
    # The first line: "dmacoh (EPOCH:UPSTREAM-REVISION) distribution; urgency=...".
    full=$(sed -n '1s/^dmacoh (\([^)]*\)).*/\1/p' debian/changelog)
    [ -n "$full" ] || { no "debian/changelog: the first line is not an entry of source dmacoh"; exit 1; }
    upstream=${full#*:}
    upstream=${upstream%-*}
    header=$(header_version)
    [ "$upstream" = "$header" ] ||
        no "debian/changelog is at upstream version $upstream ($full), include/dmacoh/dmacoh.h at $header: add a changelog entry (dch -v $header-1)"
    [ "$fail" -ne 0 ] || echo "debian/consistency.sh: version $header in debian/changelog ($full) and dmacoh.h"
    ;;
soname)
    lib=${2:?usage: consistency.sh soname LIBRARY}
    soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
    case "$soname" in
    libdmacoh.so.[0-9]*) ;;
    *)
        no "$lib: SONAME '$soname' is not libdmacoh.so.<version>"
        exit 1
        ;;
    esac
    abi=${soname#libdmacoh.so.}
    # Policy 8.1: the library's name and the SONAME's version; a hyphen between them only when
    # the name ends in a digit (it does not: libdmacoh).
    pkg=libdmacoh$abi
    grep -qx "Package: $pkg" debian/control ||
        no "SONAME $soname wants the runtime package $pkg, which debian/control does not define"
    others=$(sed -n 's/^Package: \(libdmacoh[0-9].*\)$/\1/p' debian/control | grep -vx "$pkg" || true)
    [ -z "$others" ] || no "debian/control defines runtime packages of other SONAMEs: $others"
    grep -q "^Depends: $pkg (= \${binary:Version})" debian/control ||
        no "debian/control: libdmacoh-dev does not depend on $pkg (= \${binary:Version})"
    [ -f "debian/$pkg.install" ] || no "debian/$pkg.install is missing"
    [ -f "debian/$pkg.install" ] && ! grep -qx "usr/lib/\*/$soname\*" "debian/$pkg.install" &&
        no "debian/$pkg.install does not install usr/lib/*/$soname*"
    if [ -f "debian/$pkg.symbols" ]; then
        first=$(sed -n '1p' "debian/$pkg.symbols")
        [ "$first" = "$soname $pkg #MINVER#" ] ||
            no "debian/$pkg.symbols begins '$first', not '$soname $pkg #MINVER#'"
        grep -q "^ DMACOH_$abi@DMACOH_$abi " "debian/$pkg.symbols" ||
            no "debian/$pkg.symbols lacks the version node DMACOH_$abi"
        # What the library exports against what the file lists (dpkg-gensymbols checks it
        # again, at DPKG_GENSYMBOLS_CHECK_LEVEL=4; this says how to mend it).
        if ! debian/gen-symbols.sh "$lib" | diff -u "debian/$pkg.symbols" - >&2; then
            no "$lib exports other symbols than debian/$pkg.symbols lists (diff above): if the ABI change is meant, run debian/gen-symbols.sh $lib > debian/$pkg.symbols"
        fi
    else
        no "debian/$pkg.symbols is missing (debian/gen-symbols.sh $lib > debian/$pkg.symbols)"
    fi
    for f in debian/libdmacoh[0-9]*.*; do
        [ -f "$f" ] || continue # debhelper's staging directory debian/<package>
        case "$f" in "debian/$pkg".*) ;; *) no "$f belongs to no package of SONAME $soname" ;; esac
    done
    [ "$fail" -ne 0 ] || echo "debian/consistency.sh: SONAME $soname, runtime package $pkg"
    ;;
*)
    echo "usage: debian/consistency.sh version | soname LIBRARY" >&2
    exit 2
    ;;
esac
exit "$fail"
