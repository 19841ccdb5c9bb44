#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A time-boxed libFuzzer session of tests/fuzz/fuzz_ops.c and, when libfdt is installed,
# tests/fuzz/fuzz_dt.c (the devicetree reader), under ASan and UBSan; they share the time.
#   scripts/fuzz.sh [seconds] [jobs]      default 60 s, 1 job
# Needs clang and its fuzzer runtime (Debian: clang, libclang-rt-14-dev); without them it says
# so and exits 0, since the corpus replay in ctest still runs the target. The committed corpus
# (tests/fuzz/corpus, tests/fuzz/corpus_dt) seeds a working copy in build/fuzz/corpus_<target>,
# which keeps what the session finds; a crash leaves its input in build/fuzz/ and fails the
# script.
#   FUZZ_MERGE=1 scripts/fuzz.sh 600     also merges what was found back into the corpus
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
jobs=${2:-1}
out=build/fuzz
mkdir -p "$out"
cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null ||
    ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    "$cc" -x c -fsanitize=fuzzer - -o "$out/probe" 2>/dev/null; then
    echo "fuzz: $cc with libFuzzer is not available; skipped (the corpus replay still ran)"
    exit 0
fi
flags=(-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
    -D_GNU_SOURCE -Iinclude)
"$cc" "${flags[@]}" src/core/*.c src/platform/none/*.c src/platform/linux/common.c \
    src/platform/linux/registry.c src/platform/linux/env.c tests/fuzz/fuzz_ops.c \
    -o "$out/fuzz_ops"
targets=(ops)
# The devicetree reader's target (tests/fuzz/fuzz_dt.c, corpus tests/fuzz/corpus_dt) when
# libfdt is installed (Debian: libfdt-dev); the two share the time.
if echo '#include <libfdt.h>' | "$cc" -x c -E - >/dev/null 2>&1; then
    "$cc" "${flags[@]}" src/core/*.c src/dt/*.c tests/fuzz/fuzz_dt.c -lfdt -o "$out/fuzz_dt"
    targets+=(dt)
else
    echo "fuzz: libfdt.h not found: fuzz_dt left out (Debian: libfdt-dev)"
fi
share=$((secs / ${#targets[@]}))
[ "$share" -ge 1 ] || share=1
status=0
for t in "${targets[@]}"; do
    corpus=tests/fuzz/corpus
    maxlen=1024
    [ "$t" = dt ] && corpus=tests/fuzz/corpus_dt maxlen=4096
    mkdir -p "$out/corpus_$t"
    cp -n "$corpus"/* "$out/corpus_$t/" 2>/dev/null || true
    log="$out/fuzz_$t.log"
    set +e
    (cd "$out" && ASAN_OPTIONS=detect_leaks=1 ./fuzz_$t -max_total_time="$share" \
        -max_len="$maxlen" -timeout=10 -print_final_stats=1 -jobs="$jobs" -workers="$jobs" \
        "corpus_$t") >"$log" 2>&1
    rc=$?
    set -e
    [ "$jobs" -gt 1 ] && cat "$out"/fuzz-*.log >>"$log" 2>/dev/null
    echo "fuzz_$t (${share}s):"
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|Done [0-9]+ runs' "$log" || true
    if [ $rc -ne 0 ] || grep -q 'ERROR: \|==ERROR\|fuzz_ops: line\|fuzz_dt: broken' "$log"; then
        grep -m 20 -E 'ERROR|fuzz_ops: line|fuzz_dt: broken|SUMMARY|Test unit written' "$log" || tail -n 40 "$log"
        echo "fuzz: fuzz_$t FAILED (rc $rc), see $log"
        status=1
        continue
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        rm -rf "$out/merged_$t"
        mkdir -p "$out/merged_$t"
        (cd "$out" && ./fuzz_$t -merge=1 -max_len="$maxlen" "merged_$t" "corpus_$t" >/dev/null 2>&1)
        cp "$out/merged_$t"/* "$corpus/" 2>/dev/null || true
        echo "fuzz: $corpus now $(ls "$corpus" | wc -l) inputs"
    fi
done
[ $status -eq 0 ] || exit 1
echo "fuzz: ${secs}s, no finding"
