#!/usr/bin/env bash
# The size of both Lambda bootstraps (arm64, built as `sam build` builds them: cargo lambda with
# zig) under one build lever at a time, and what each lever does to the signer's speed.
#
# Each lever is a set of `cargo --config` overrides laid over the workspace's release profile,
# so nothing in Cargo.toml changes between rows. Size: the stripped arm64 `bootstrap` of the signer
# and of key-setup. Speed: the signer's whole handler in-process (verify an RS256 token, sign one
# cookie set; functions/signer/examples/sessions.rs), built for this machine with the same
# overrides, as sessions per CPU-second for an ECDSA P-256 and an RSA-2048 key. The arm64 binary
# is not timed: under qemu it would measure the emulator, and the levers change code generation
# the same way on both architectures.
#
# usage: bench/size-levers.sh [LEVER ...]   (default: every lever; names in `levers` below)
# LEVERS_LABEL=NAME puts NAME- in front of each row's name (to measure a commit beside another).
# The arm64 builds go to $LEVERS_TARGET/levers-arm64, the speed builds to levers-native (default
# LEVERS_TARGET: this tree's target/); both are kept, so a second run only relinks. Results:
# levers/<lever>.txt there, then one table. VENV names the Python venv with cargo-lambda (default
# .venv here). To measure another commit, run the script of a worktree checked out at it with
# LEVERS_TARGET pointing at the same folder: dependencies are then compiled once for both.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${VENV:-$root/.venv}
targets=${LEVERS_TARGET:-$root/target}
[ -x "$venv/bin/cargo-lambda" ] || { echo "size-levers: run 'make deps' first (cargo-lambda comes from the venv)" >&2; exit 1; }
export PATH="$venv/bin:$PATH"
out=$targets/levers
mkdir -p "$out"
sessions_n=${SESSIONS_N:-4000}

# name | cargo --config overrides (space-separated KEY=VALUE; `-` for none) | what it tries.
# `cargo lambda build --release` (what `sam build` runs) adds panic="abort" and
# target-cpu=neoverse-n1 to every release build; `lambda-defaults-off` builds without them.
levers=(
    "shipped|-|the release profile as committed, with cargo lambda's release defaults"
    "lambda-defaults-off|--disable-optimizations|without cargo lambda's panic=\"abort\" and target-cpu (unwinding kept)"
    "opt-s|profile.release.opt-level=\"s\"|everything optimised for size"
    "deps-s|profile.release.package.\"*\".opt-level=\"s\" profile.release.package.aws-lc-sys.opt-level=3 profile.release.package.aws-lc-rs.opt-level=3|dependencies for size; the crypto and keyhole's own crates at 3"
    "deps-s-hot3|profile.release.package.\"*\".opt-level=\"s\" profile.release.package.aws-lc-sys.opt-level=3 profile.release.package.aws-lc-rs.opt-level=3 profile.release.package.serde.opt-level=3 profile.release.package.serde_json.opt-level=3 profile.release.package.jsonwebtoken.opt-level=3 profile.release.package.base64.opt-level=3 profile.release.package.aws_lambda_events.opt-level=3 profile.release.package.lambda_http.opt-level=3 profile.release.package.http.opt-level=3 profile.release.package.time.opt-level=3 profile.release.package.itoa.opt-level=3 profile.release.package.ryu.opt-level=3 profile.release.package.memchr.opt-level=3 profile.release.package.hyper.opt-level=3 profile.release.package.tokio.opt-level=3 profile.release.package.bytes.opt-level=3|dependencies for size except the hot path at 3: the crypto, JSON, base64, JWT, the API Gateway event, HTTP, time, the runtime loop (hyper, tokio)"
    "cgu16|profile.release.codegen-units=16|what codegen-units=1 buys (16 is cargo's default)"
    "opt-z|profile.release.opt-level=\"z\"|everything optimised for size, loops not vectorised"
)
selected=("$@")

# The arguments a lever adds: `--config KEY=VALUE` for each override, or a cargo lambda flag.
config_args() {
    local overrides=$1
    [ "$overrides" = - ] && return 0
    for kv in $overrides; do
        case $kv in
            --*) printf -- '%s\n' "$kv" ;;
            *) printf -- '--config\n%s\n' "$kv" ;;
        esac
    done
}

run_lever() {
    local name=$1 overrides=$2
    local args=()
    mapfile -t args < <(config_args "$overrides")
    local t0 t1
    t0=$(date +%s)
    # One binary per build, as `sam build` builds each function: features unify across the
    # packages of one build, so building both together would give key-setup the signer's SigV4A.
    for bin in keyhole-signer keyhole-key-setup; do
        CARGO_TARGET_DIR=$targets/levers-arm64 cargo lambda build --quiet --locked --release --arm64 \
            "${args[@]}" --lambda-dir "$out/$name" --bin "$bin" >&2
    done
    t1=$(date +%s)
    # The speed build mirrors cargo lambda's panic strategy; its CPU is this machine's.
    local native=()
    if [ "$overrides" = --disable-optimizations ]; then
        native=()
    else
        native=(--config 'profile.release.panic="abort"' "${args[@]}")
    fi
    CARGO_TARGET_DIR=$targets/levers-native cargo build --quiet --locked --release \
        "${native[@]}" -p keyhole-signer --example sessions >&2
    local signer key_setup ec rsa
    signer=$(stat -c %s "$out/$name/keyhole-signer/bootstrap")
    key_setup=$(stat -c %s "$out/$name/keyhole-key-setup/bootstrap")
    local bin=$targets/levers-native/release/examples/sessions
    ec=$("$bin" ecdsa "$sessions_n" | sed -E 's/.* = ([0-9]+) sessions per CPU-second.*/\1/')
    rsa=$("$bin" rsa "$((sessions_n / 4))" | sed -E 's/.* = ([0-9]+) sessions per CPU-second.*/\1/')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$signer" "$key_setup" "$ec" "$rsa" "$((t1 - t0))" | tee "$out/$name.txt"
}

for lever in "${levers[@]}"; do
    IFS='|' read -r name overrides what <<<"$lever"
    if [ ${#selected[@]} -gt 0 ] && ! printf '%s\n' "${selected[@]}" | grep -qx "$name"; then
        continue
    fi
    label=${LEVERS_LABEL:+$LEVERS_LABEL-}$name
    echo "== $label: $what" >&2
    run_lever "$label" "$overrides"
done

python3 - "$out" "${levers[@]}" <<'PY'
import glob, os, sys
out, levers = sys.argv[1], sys.argv[2:]
names = [l.split("|")[0] for l in levers]
what = {l.split("|")[0]: l.split("|")[2] for l in levers}
files = {os.path.basename(p)[:-4]: p for p in glob.glob(os.path.join(out, "*.txt"))}
rows = {}
for name in names:
    labels = [name] + sorted(l for l in files if l.endswith("-" + name) and l not in names)
    for label in labels:
        if label in files:
            f = open(files[label]).read().split()
            note = what[name] if label == name else f"{what[name]}; at {label[: -len(name) - 1]}"
            rows[label] = (note, *(int(x) for x in f[1:6]))
if "shipped" not in rows:
    sys.exit("no figures for the shipped profile: run it first")
_, s0, k0, e0, r0, _ = rows["shipped"]
mb = lambda b: f"{b / 1e6:.2f} MB"
pct = lambda v, base: f"{(v / base - 1) * 100:+.1f}%"
print("| lever | signer bootstrap | key-setup bootstrap | ECDSA sessions / CPU-s | RSA sessions / CPU-s | arm64 build |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for label, (note, s, k, e, r, t) in rows.items():
    cells = [f"`{label}`: {note}", f"{mb(s)} ({pct(s, s0)})", f"{mb(k)} ({pct(k, k0)})",
             f"{e:,} ({pct(e, e0)})", f"{r:,} ({pct(r, r0)})", f"{t} s"]
    print("| " + " | ".join(cells) + " |")
PY
