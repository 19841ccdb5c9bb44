#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A time-boxed libFuzzer session of tests/fuzz/fuzz_ops.c under ASan and UBSan.
#   scripts/fuzz.sh [seconds] [jobs]      default 60 s, 1 job
# Needs clang and its fuzzer runtime (Debian: clang, libclang-rt-14-dev); without them it says
# so and exits 0, since the corpus replay in ctest still runs the target. The committed corpus
# (tests/fuzz/corpus) seeds a working copy in build/fuzz/corpus, which keeps what the session
# finds; a crash leaves its input in build/fuzz/ and fails the script.
#   FUZZ_MERGE=1 scripts/fuzz.sh 600     also merges what was found back into the corpus
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
jobs=${2:-1}
out=build/fuzz
mkdir -p "$out/corpus"
cc=${FUZZ_CC:-clang}
if ! command -v "$cc" >/dev/null ||
    ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    "$cc" -x c -fsanitize=fuzzer - -o "$out/probe" 2>/dev/null; then
    echo "fuzz: $cc with libFuzzer is not available; skipped (the corpus replay still ran)"
    exit 0
fi
"$cc" -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -D_GNU_SOURCE -Iinclude src/core/*.c src/platform/none/*.c src/platform/linux/common.c \
    src/platform/linux/registry.c src/platform/linux/env.c tests/fuzz/fuzz_ops.c \
    -o "$out/fuzz_ops"
cp -n tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
log="$out/fuzz.log"
set +e
(cd "$out" && ASAN_OPTIONS=detect_leaks=1 ./fuzz_ops -max_total_time="$secs" -max_len=1024 \
    -timeout=10 -print_final_stats=1 -jobs="$jobs" -workers="$jobs" corpus) >"$log" 2>&1
rc=$?
set -e
[ "$jobs" -gt 1 ] && cat "$out"/fuzz-*.log >>"$log" 2>/dev/null
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|Done [0-9]+ runs' "$log" || true
if [ $rc -ne 0 ] || grep -q 'ERROR: \|==ERROR\|fuzz_ops: line' "$log"; then
    grep -m 20 -E 'ERROR|fuzz_ops: line|SUMMARY|Test unit written' "$log" || tail -n 40 "$log"
    echo "fuzz: FAILED (rc $rc), see $log"
    exit 1
fi
if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    mkdir -p "$out/merged"
    (cd "$out" && ./fuzz_ops -merge=1 -max_len=1024 merged corpus >/dev/null 2>&1)
    cp "$out"/merged/* tests/fuzz/corpus/ 2>/dev/null || true
    echo "fuzz: corpus now $(ls tests/fuzz/corpus | wc -l) inputs"
fi
echo "fuzz: ${secs}s, no finding"
