#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fetch.sh CACHE: the arm64 pieces of `make hwtest-dt`, downloaded once into CACHE/arm64 and
# unpacked there: Debian's cloud kernel (only its boot/ folder is kept), busybox-static (the
# guest's shell) and libfdt-dev (libfdt.a, for the static guest program).
# As scripts/fetch-libfdt.sh does, apt runs with a private state (package lists and cache in
# CACHE/arm64/apt): the machine's dpkg architectures and apt setup are not touched.
# Prints nothing; exits non-zero, saying which, when a package cannot be had.
set -euo pipefail
cache=${1:?usage: fetch.sh CACHE}
dir=$cache/arm64
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/deb"
apt=(apt-get -qq -o APT::Architecture=arm64 -o APT::Architectures=arm64
    -o Dir::State::Lists="$dir/apt/lists" -o Dir::Cache="$dir/apt/cache"
    -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
have() { [ -e "$dir/$1" ]; }
if have kernel/boot && have busybox/bin/busybox && have libfdt/usr/lib/aarch64-linux-gnu/libfdt.a; then
    exit 0
fi
if ! ls "$dir"/apt/lists/*Packages* >/dev/null 2>&1; then
    "${apt[@]}" update >&2
fi
# Downloads one package (by exact name) and unpacks it into $dir/$2.
get() {
    rm -f "$dir"/deb/"$1"_*.deb
    # Package lists older than the archive name files no longer there: refresh once.
    (cd "$dir/deb" && "${apt[@]}" download "$1:arm64" >&2) ||
        { "${apt[@]}" update >&2 && (cd "$dir/deb" && "${apt[@]}" download "$1:arm64" >&2); } || {
        echo "hwtest-dt: cannot download $1:arm64" >&2
        return 1
    }
    rm -rf "$dir/$2.tmp" && dpkg-deb -x "$(ls "$dir"/deb/"$1"_*_arm64.deb | tail -n 1)" "$dir/$2.tmp"
}
if ! have kernel/boot; then
    # The metapackage names the current kernel package.
    pkg=$(apt-cache -o APT::Architecture=arm64 -o Dir::State::Lists="$dir/apt/lists" \
        -o Dir::Cache="$dir/apt/cache" -o Dir::State::status=/dev/null \
        depends linux-image-cloud-arm64 | awk '/Depends: linux-image-/ {print $2; exit}')
    [ -n "$pkg" ] || { echo "hwtest-dt: no linux-image-cloud-arm64 in the arm64 lists" >&2; exit 1; }
    pkg=${pkg%:arm64}
    get "$pkg" kernel
    # The guest needs only the kernel image and its config (modules stay out: /dev/mem and
    # the PL011 console are built in).
    mkdir -p "$dir/kernel.keep" && mv "$dir/kernel.tmp/boot" "$dir/kernel.keep/boot"
    rm -rf "$dir/kernel.tmp" "$dir/kernel" && mv "$dir/kernel.keep" "$dir/kernel"
fi
if ! have busybox/bin/busybox; then
    get busybox-static busybox
    rm -rf "$dir/busybox" && mv "$dir/busybox.tmp" "$dir/busybox"
fi
if ! have libfdt/usr/lib/aarch64-linux-gnu/libfdt.a; then
    get libfdt-dev libfdt
    rm -rf "$dir/libfdt" && mv "$dir/libfdt.tmp" "$dir/libfdt"
fi
rm -f "$dir"/deb/*.deb
