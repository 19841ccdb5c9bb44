#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make package-test`: the Debian packages (debian/), built and used as a user would. As root
# on Debian 12 (debootstrap and chroot need it); the packages it needs are installed by
# `make package-test` (scripts/deps.sh) and by step 3 for the build dependencies.
#   1. debian/changelog and include/dmacoh/dmacoh.h agree on the version (debian/consistency.sh)
#   2. a clean copy of the tree (git's tracked and unignored files) in build/deb/dmacoh-VERSION,
#      an upstream tarball of it without debian/, and the source package (dpkg-source -b)
#   3. the binary packages: dpkg-buildpackage -us -uc -b (debian/rules checks that the runtime
#      package is named after the SONAME and that its symbols file lists what the library
#      exports); 3b. each of debian/consistency.sh's checks is shown to refuse a copy of
#      debian/ (or dmacoh.h) changed to disagree
#   4. lintian on the source and binary packages: fails on an error, prints every other tag
#      and names those debian/README.source does not explain
#   5. a fresh Debian 12 (debootstrap --variant=minbase bookworm) in build/deb/chroot; the
#      debootstrap result is kept in build/debootstrap-bookworm-minbase.tar.gz and unpacked
#      afresh on later runs
#   6. in it, apt installs gcc, libc6-dev, pkgconf, cmake, make and device-tree-compiler (the
#      examples' .dts), then the three packages
#      (their dependencies resolved by apt); tests/install/consumer.c is built and run with
#      pkg-config and with CMake's find_package(dmacoh) (shared and static), and the examples
#      libdmacoh-dev carries are built with pkg-config and run; `dmacoh --version`
#      and `dmacoh --help` run; every manual page of man/ and every name it documents is
#      installed; then apt-get purge removes the packages and no file of theirs is left
# DMACOH_DEB_MIRROR sets the Debian mirror (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=$top/build/deb
chroot_dir=$out/chroot
base_tar=$top/build/debootstrap-bookworm-minbase.tar.gz
mirror=${DMACOH_DEB_MIRROR:-http://deb.debian.org/debian}

step() { printf '\n=== %s (at %d s) ===\n' "$*" "$SECONDS"; }
fail() {
    echo "package-test: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap, chroot, apt-get in the chroot)"

# Nothing may stay mounted under build/deb: rm -rf through a mount would reach the host.
# findmnt prints mount points decoded (mountinfo writes a space as \040), so a checkout path
# with a space is matched too; every rm -rf below also stays on its file system.
mounts_under() {
    findmnt -rn -o TARGET | while IFS= read -r m; do
        m=$(printf '%b' "$m") # findmnt -r escapes blanks as \x20
        case "$m" in "$1"/*) printf '%s\n' "$m" ;; esac
    done | sort -r
}
unmount_all() {
    local m
    mounts_under "$out" | while IFS= read -r m; do
        umount -R "$m" 2>/dev/null || umount -l "$m" || true
    done
}
trap unmount_all EXIT
unmount_all
[ -z "$(mounts_under "$out")" ] || fail "cannot unmount $(mounts_under "$out" | head -n 1)"

step "1. version: debian/changelog against include/dmacoh/dmacoh.h"
debian/consistency.sh version
ver() { sed -n "s/^#define DMACOH_VERSION_$1 \([0-9]*\)$/\1/p" include/dmacoh/dmacoh.h; }
version=$(ver MAJOR).$(ver MINOR).$(ver PATCH)
debversion=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)

step "2. a clean copy of the tree, the upstream tarball and the source package"
rm -rf --one-file-system "$out"
src=$out/dmacoh-$version
mkdir -p "$src"
if git rev-parse --git-dir >/dev/null 2>&1; then
    # Tracked and untracked-but-not-ignored files as they are in the work tree (build/ is
    # ignored); a tracked file deleted in the work tree is left out.
    git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
        if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
    done | tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
if [ ! -f "$src/debian/control" ] || [ ! -f "$src/CMakeLists.txt" ]; then
    fail "the copy in $src is incomplete"
fi
echo "copied $(find "$src" -type f | wc -l) files to ${src#"$top"/}"
tar -C "$out" --exclude="dmacoh-$version/debian" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$(dpkg-parsechangelog -S Timestamp)" -cJf "$out/dmacoh_$version.orig.tar.xz" \
    "dmacoh-$version"
(cd "$out" && dpkg-source -b "dmacoh-$version")

step "3. binary packages: dpkg-buildpackage -us -uc -b"
# The build dependencies of debian/control, as dpkg-checkbuilddeps finds them missing
# (debhelper-compat is provided by debhelper; version constraints are apt's to meet).
if ! unmet=$(cd "$src" && dpkg-checkbuilddeps 2>&1); then
    pkgs=$(sed -n 's/.*Unmet build dependencies: //p' <<<"$unmet" | sed 's/([^)]*)//g; s/|/ /g' |
        tr ' ' '\n' | sed 's/:.*//; s/^debhelper-compat$/debhelper/' | grep . | sort -u)
    [ -n "$pkgs" ] || fail "dpkg-checkbuilddeps: $unmet"
    # shellcheck disable=SC2086 # one package a word
    scripts/deps.sh $pkgs
fi
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
    tail -n 60 "$out/build.log"
    fail "dpkg-buildpackage failed (the whole log: ${out#"$top"/}/build.log)"
fi
grep -E '^debian/consistency.sh: |dpkg-deb: building' "$out/build.log"
debs=()
for p in libdmacoh$(ver MAJOR).$(ver MINOR) libdmacoh-dev dmacoh-tools; do
    f=$out/${p}_${debversion}_$arch.deb
    [ -f "$f" ] || fail "dpkg-buildpackage made no ${f##*/}"
    debs+=("$f")
done
runtime=${debs[0]##*/}
runtime=${runtime%%_*}

step "3b. the packaging's checks refuse a disagreement"
# debian/consistency.sh on copies of debian/ and dmacoh.h, each changed one way it must refuse,
# against the library just built.
built_lib=$src/debian/tmp/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libdmacoh.so
[ -f "$built_lib" ] || fail "no built library at $built_lib"
must_refuse() { # must_refuse WHAT 'SHELL CODE CHANGING THE COPY' consistency.sh-ARGS...
    local what=$1 change=$2 t=$out/refuse
    shift 2
    rm -rf --one-file-system "$t"
    mkdir -p "$t/include/dmacoh"
    cp -r debian "$t/"
    cp include/dmacoh/dmacoh.h "$t/include/dmacoh/"
    (cd "$t" && eval "$change")
    if "$t/debian/consistency.sh" "$@" >"$t.log" 2>&1; then
        cat "$t.log"
        fail "debian/consistency.sh $1 accepted $what"
    fi
    echo "refused: $what: $(grep -m 1 '^debian/consistency.sh: ' "$t.log" | cut -c 24-)"
}
must_refuse "dmacoh.h at another version than debian/changelog" \
    'sed -i "s/^#define DMACOH_VERSION_PATCH .*/#define DMACOH_VERSION_PATCH 99/" include/dmacoh/dmacoh.h' \
    version
must_refuse "a symbols file without a symbol the library exports" \
    'sed -i "\$d" debian/'"$runtime"'.symbols' soname "$built_lib"
must_refuse "a runtime package not named after the SONAME" \
    'sed -i "s/^Package: '"$runtime"'\$/Package: libdmacoh0/" debian/control' soname "$built_lib"
must_refuse "libdmacoh-dev not depending on the runtime's exact version" \
    'sed -i "s/(= \${binary:Version})/(>= \${binary:Version})/" debian/control' soname "$built_lib"
rm -rf --one-file-system "$out/refuse" "$out/refuse.log"
debian/consistency.sh soname "$built_lib"

step "4. lintian (bookworm): fails on errors, shows every other tag"
lintian_log=$out/lintian.log
status=0
lintian --fail-on error --display-info --pedantic "$out/dmacoh_$debversion.dsc" \
    "$out/dmacoh_${debversion}_$arch.changes" >"$lintian_log" 2>&1 || status=$?
grep -v '^running with root privileges' "$lintian_log" || true
[ "$status" -eq 0 ] || fail "lintian found errors (above)"
# Every tag left is explained in debian/README.source; name any that is not.
unexplained=$(sed -n 's/^[WIPX]: [^:]*: \([a-z0-9-]*\).*/\1/p' "$lintian_log" | sort -u |
    while read -r tag; do grep -q -- "$tag" debian/README.source || echo "$tag"; done)
[ -z "$unexplained" ] || echo "lintian tags debian/README.source does not explain: $(echo $unexplained)"
echo "lintian: no errors"

step "5. a fresh Debian 12 chroot (debootstrap --variant=minbase bookworm)"
if [ ! -f "$base_tar" ]; then
    scripts/deps.sh debootstrap
    rm -rf --one-file-system "$out/debootstrap"
    debootstrap --variant=minbase bookworm "$out/debootstrap" "$mirror" >"$out/debootstrap.log" 2>&1 || {
        tail -n 30 "$out/debootstrap.log"
        fail "debootstrap failed (log: ${out#"$top"/}/debootstrap.log)"
    }
    tar -C "$out/debootstrap" --numeric-owner -czf "$base_tar.tmp" .
    mv "$base_tar.tmp" "$base_tar"
    rm -rf --one-file-system "$out/debootstrap"
    echo "debootstrap done; kept as ${base_tar#"$top"/}"
fi
mkdir -p "$chroot_dir"
tar -C "$chroot_dir" --numeric-owner -xzf "$base_tar"
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf" 2>/dev/null || true
echo "deb $mirror bookworm main" >"$chroot_dir/etc/apt/sources.list"
mkdir -p "$chroot_dir/tmp/debs" "$chroot_dir/tmp/consumer"
cp "${debs[@]}" "$chroot_dir/tmp/debs/"
cp tests/install/consumer.c tests/install/CMakeLists.txt "$chroot_dir/tmp/consumer/"
# The manual pages the tree has (dmacoh.1 once it exists), and for section 3 every name a
# page's NAME section documents, which CMakeLists.txt links to the page: the installed ones are
# checked against this list.
{
    for page in man/*.[1-9]; do
        [ -e "$page" ] || continue
        echo "${page##*/} ${page##*/}"
        case "$page" in *.3) ;; *) continue ;; esac
        sed -n 's/^\.Nm \([A-Za-z0-9_][A-Za-z0-9_]*\) \{0,1\},\{0,1\}$/\1/p' "$page" |
            while read -r name; do echo "$name.3 ${page##*/}"; done
    done
} | sort -u >"$chroot_dir/tmp/man-expected"

step "6. in the chroot: install, build a consumer, run the command, purge"
cat >"$chroot_dir/tmp/in-chroot.sh" <<EOF
set -euo pipefail
runtime=$runtime
want=$(ver MAJOR).$(ver MINOR)
version=$version
debversion=$debversion
EOF
cat >>"$chroot_dir/tmp/in-chroot.sh" <<'EOF'
apt=(apt-get -q -y -o Dpkg::Use-Pty=0 --no-install-recommends)
echo "--- apt-get update; install what a consumer needs"
apt-get -q update >/dev/null
"${apt[@]}" install gcc libc6-dev pkgconf cmake make device-tree-compiler >/tmp/apt-tools.log 2>&1 ||
    { tail -n 30 /tmp/apt-tools.log; exit 1; }
listing() { find /usr /etc /opt /var/lib/dpkg/info -xdev ! -type d 2>/dev/null | sort; }
listing >/tmp/files-before

echo "--- apt-get install the three packages"
"${apt[@]}" install /tmp/debs/*.deb
for p in "$runtime" libdmacoh-dev dmacoh-tools; do
    [ "$(dpkg-query -W -f='${Status} ${Version}' "$p")" = "install ok installed $debversion" ] ||
        { echo "$p is not installed at $debversion"; exit 1; }
done
# (Outputs are read whole before grep -q: under pipefail, a writer grep -q leaves early
# would fail with SIGPIPE.)
cache=$(ldconfig -p)
grep -q "libdmacoh.so.$want " <<<"$cache" || { echo "ldconfig does not know libdmacoh.so.$want"; exit 1; }

echo "--- the consumer with pkg-config"
cd /tmp/consumer
[ "$(pkg-config --modversion dmacoh)" = "$version" ] || { echo "dmacoh.pc is not $version"; exit 1; }
cc -Wall -Wextra -Werror -o consumer-pc consumer.c $(pkg-config --cflags --libs dmacoh)
# The library the loader picks is the runtime package's file.
lib=$(ldd ./consumer-pc | awk -v n="libdmacoh.so.$want" '$1 == n { print $3 }')
owner=$(dpkg -S "$(readlink -f "$lib")")
grep -q "^$runtime:" <<<"$owner" ||
    { ldd ./consumer-pc; echo "consumer-pc does not use $runtime's library"; exit 1; }
./consumer-pc

echo "--- the examples of libdmacoh-dev, built with pkg-config and run"
examples=/usr/share/doc/libdmacoh-dev/examples
n=0
# An example that reads a devicetree finds its blob, compiled from the .dts beside it, here.
for dts in "$examples"/*.dts; do
    [ -e "$dts" ] && dtc -q -I dts -O dtb -o "$(basename "$dts" .dts).dtb" "$dts"
done
for c in "$examples"/*.c; do
    [ -e "$c" ] || continue
    name=$(basename "$c" .c)
    cc -Wall -Wextra -Werror -o "$name" "$c" $(pkg-config --cflags --libs dmacoh)
    # shared_card keeps its region's state in DMACOH_SHM_DIR: a folder of its own here.
    DMACOH_SHM_DIR=$(mktemp -d) ./"$name" >"$name.out" 2>&1 ||
        { cat "$name.out"; echo "example $name failed"; exit 1; }
    echo "$name: $(wc -l <"$name.out") lines of output, exit 0"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no example in $examples"; exit 1; }

echo "--- the consumer with CMake find_package(dmacoh $want)"
cmake -S . -B build -DDMACOH_WANT="$want" >/dev/null
cmake --build build >/dev/null
./build/consumer_shared
./build/consumer_static

echo "--- the command"
dmacoh --version | tee /tmp/version.out
grep -qF "$version" /tmp/version.out || { echo "dmacoh --version does not say $version"; exit 1; }
dmacoh --help >/tmp/help.out
grep -q 'dmacoh' /tmp/help.out || { cat /tmp/help.out; echo "dmacoh --help shows no usage"; exit 1; }
echo "dmacoh --help: $(wc -l </tmp/help.out) lines"
# status on a machine where nothing is declared: the empty answer, as JSON that parses back.
DMACOH_SHM_DIR=$(mktemp -d) dmacoh status --json >/tmp/status.json
grep -q '"regions": \[\]' /tmp/status.json || { cat /tmp/status.json; echo "dmacoh status --json"; exit 1; }
echo "dmacoh status --json: no region, as expected"

echo "--- the manual pages"
pages=0
while read -r name page; do
    sec=${name##*.}
    f=/usr/share/man/man$sec/$name.gz
    [ -f "$f" ] || { echo "$f is not installed"; exit 1; }
    [ "$(readlink -f "$f")" = "/usr/share/man/man$sec/$page.gz" ] || { echo "$f does not lead to $page"; exit 1; }
    pages=$((pages + 1))
done </tmp/man-expected
[ "$pages" -gt 0 ] || { echo "no manual page checked"; exit 1; }
echo "$pages manual page names installed, each leading to its page"

echo "--- apt-get purge"
# --autoremove: what apt pulled in for them (libfdt-dev, libfdt1) goes too.
"${apt[@]}" purge --autoremove "$runtime" libdmacoh-dev dmacoh-tools
for p in "$runtime" libdmacoh-dev dmacoh-tools; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    "" | *" not-installed") ;;
    *) echo "$p is not purged: $status"; exit 1 ;;
    esac
done
listing >/tmp/files-after
if ! diff /tmp/files-before /tmp/files-after; then
    echo "apt-get purge left files behind, or removed others (diff above)"
    exit 1
fi
cache=$(ldconfig -p)
if grep -q libdmacoh <<<"$cache"; then echo "ldconfig still knows libdmacoh"; exit 1; fi
echo "purged: no file of the packages is left"
EOF
# Only /proc is mounted (shared regions name processes by /proc/<pid>: examples/shared_card.c);
# apt, dpkg, gcc, cmake, the consumer and the command need no /sys or /dev mount (debootstrap
# made the device nodes /dev/null and the like). The EXIT trap unmounts anything found under
# build/deb.
mount -t proc proc "$chroot_dir/proc"
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
    chroot "$chroot_dir" /bin/bash /tmp/in-chroot.sh || fail "the test in the chroot failed (above)"
umount "$chroot_dir/proc"
rm -rf --one-file-system "$chroot_dir"
echo
echo "make package-test: the packages build, pass lintian, install, serve a consumer and purge ($SECONDS s)"
