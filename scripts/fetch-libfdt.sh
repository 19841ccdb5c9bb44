#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fetch-libfdt.sh DEBARCH TRIPLE: prints the path of libfdt.so.1 built for another
# architecture (armhf, s390x, i386), for the builds that run the devicetree reader's tests
# there: `make cross-test` and the -m32 step of `make check`. Prints nothing (exit 0) when it
# cannot be had; CMake then leaves the reader out of that build, saying so.
#
# Debian's libfdt-dev is not Multi-Arch: same (its packages for two architectures conflict),
# and installing the runtime package libfdt1:<arch> would need that architecture configured
# in dpkg and would pull its libc6 into /usr/lib/<triple>, where QEMU's user-mode loader finds
# it before the cross libc under /usr/<triple>, a different build of it ("stack smashing
# detected" in every emulated program). So the package alone is downloaded by apt with a
# private state (lists and cache in build/libfdt-<arch>/apt; the machine's apt and dpkg setup
# are not touched) and unpacked there. The headers, which do not depend on the architecture,
# are the host's libfdt-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: fetch-libfdt.sh DEBARCH TRIPLE}
triple=${2:?usage: fetch-libfdt.sh DEBARCH TRIPLE}
dir=$PWD/build/libfdt-$arch
lib=$dir/root/usr/lib/$triple/libfdt.so.1
if [ ! -f "$lib" ]; then
    mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial"
    apt=(apt-get -qq -o APT::Architecture="$arch" -o APT::Architectures="$arch"
        -o Dir::State::Lists="$dir/apt/lists" -o Dir::Cache="$dir/apt/cache"
        -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
    if "${apt[@]}" update >&2 && (cd "$dir" && "${apt[@]}" download "libfdt1:$arch" >&2); then
        dpkg-deb -x "$(ls "$dir"/libfdt1_*_"$arch".deb | tail -n 1)" "$dir/root"
    fi
fi
if [ -f "$lib" ]; then echo "$lib"; fi
