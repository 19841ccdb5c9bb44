# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2154 # out, limit, say and elapsed are the caller's
# tests/hw/qemu.sh - sourced by tests/hw/run.sh and tests/hw-dt/run.sh: one boot of a QEMU guest
# whose payload prints an init marker, its results and a done marker on the serial console,
# then waits for the host.
#
# qemu_boot INIT DONE COMMAND...
#   runs COMMAND (qemu-system-* and its options, without -serial/-monitor) for at most $limit
#   seconds with the serial console in $out/serial.log and the monitor on the FIFOs
#   $out/mon.{in,out}; waits until the console shows a line starting with DONE (or QEMU ends);
#   prints the console between two `say` lines and leaves it in $log (carriage returns and
#   terminal escapes removed); saves each "HOSTDUMP <phys> <len> <tag>" the guest printed as
#   $out/dump-<n>.bin with the monitor's pmemsave; quits QEMU. $t_init is the time from QEMU's
#   start to the INIT marker ("" when never seen). The caller defines say() and elapsed() and
#   sets out and limit; QEMU's stderr goes to the file $qemu_err when it is set.
qemu_boot() {
    local init=$1 done=$2 qemu drain t_boot n i
    shift 2
    rm -f "$out"/serial.log "$out"/mon.in "$out"/mon.out "$out"/dump-*.bin
    mkfifo "$out/mon.in" "$out/mon.out"
    cat "$out/mon.out" >"$out/monitor.log" &
    drain=$!
    # The pipe chardev's FIFOs are opened by QEMU; keep mon.in open here so it sees no EOF.
    exec 9<>"$out/mon.in"
    t_boot=$(date +%s.%N)
    if [ -n "${qemu_err:-}" ]; then
        timeout "$limit" "$@" -serial file:"$out/serial.log" -monitor pipe:"$out/mon" \
            </dev/null 2>"$qemu_err" &
    else
        timeout "$limit" "$@" -serial file:"$out/serial.log" -monitor pipe:"$out/mon" </dev/null &
    fi
    qemu=$!
    t_init=""
    while kill -0 "$qemu" 2>/dev/null; do
        if [ -z "$t_init" ] && grep -q "$init" "$out/serial.log" 2>/dev/null; then
            t_init=$(elapsed "$t_boot")
        fi
        grep -q "^$done" "$out/serial.log" 2>/dev/null && break
        sleep 0.1
    done
    # The serial log without carriage returns and the firmware's terminal escapes.
    log=$(tr -d '\r' <"$out/serial.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g')
    say "---- guest serial console ----"
    echo "$log"
    say "---- end of guest serial console ----"
    # Guest-physical memory the guest asked to be checked, saved while the guest waits.
    n=0
    while read -r _ phys len _; do
        echo "pmemsave $phys $len \"$out/dump-$n.bin\"" >&9
        n=$((n + 1))
    done < <(grep '^HOSTDUMP ' <<<"$log" || true)
    for i in $(seq 0 $((n - 1))); do
        for _ in $(seq 50); do [ -s "$out/dump-$i.bin" ] && break; sleep 0.1; done
    done
    echo quit >&9
    wait "$qemu" 2>/dev/null || true
    kill "$drain" 2>/dev/null || true
    exec 9>&-
    sleep 0.2
}
