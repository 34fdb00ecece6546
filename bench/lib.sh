# Sourced by the benchmark scripts. `record KEY VALUE` appends one figure to $BENCH_RESULTS (a
# tab-separated file that `make bench` empties first and bench/table.py turns into the one table);
# without BENCH_RESULTS it does nothing, so each script still runs on its own.
record() {
    if [ -n "${BENCH_RESULTS:-}" ]; then
        printf '%s\t%s\n' "$1" "$2" >>"$BENCH_RESULTS"
    fi
}

# `pin CORE COMMAND...`: runs COMMAND on one core when the machine has two or more (the server
# on one, the load generator on the other), as it is otherwise. For a command started in the
# background, `"${PIN[@]}" COMMAND &` after `pin_args CORE` keeps the command's own pid in $!.
pin_args() {
    PIN=()
    if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
        PIN=(taskset -c "$1")
    fi
}
pin() {
    pin_args "$1"
    shift
    "${PIN[@]}" "$@"
}
