#!/usr/bin/env python3
"""The one table of `make bench`: every figure the run recorded (target/bench/results.tsv, one
`key<TAB>value` line each, written by bench/lib.sh's `record` and its Python twins), as Markdown
for the README's performance section, with the machine it ran on and the ratios against OpenSSL
and the peers computed from figures of the same run.

usage: bench/table.py RESULTS_TSV
A figure the run did not record shows as "n/a" (a step that was skipped or failed), never as a
number from elsewhere.
"""

import os
import platform
import subprocess
import sys


def load(path):
    figures = {}
    with open(path) as f:
        for line in f:
            if "\t" in line:
                key, value = line.rstrip("\n").split("\t", 1)
                figures[key] = float(value)
    return figures


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.split()
        openssl = " ".join(version[:2])
    except OSError:
        openssl = "openssl: not found"
    cores = len(os.sched_getaffinity(0))
    return f"{cores} x {cpu}, {platform.system()} {platform.release()}, {openssl}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    f = load(sys.argv[1])

    def get(key):
        return f.get(key)

    def num(key, digits=0, unit=""):
        v = get(key)
        if v is None:
            return "n/a"
        return f"{v:,.{digits}f}{unit}"

    def ratio(a, b, digits=2):
        va, vb = get(a), get(b)
        if va is None or vb is None or vb == 0:
            return "n/a"
        return f"{va / vb:.{digits}f}x"

    rows = []

    def row(what, figure, compare=""):
        rows.append(f"| {what} | {figure} | {compare} |")

    row("OpenSSL RSA-2048 sign / verify (one core)", f"{num('openssl.rsa2048.sign')} / {num('openssl.rsa2048.verify')} per s")
    row("OpenSSL ECDSA P-256 sign / verify (one core)", f"{num('openssl.p256.sign')} / {num('openssl.p256.verify')} per s")
    for kind, anchor, label in (("ecdsa", "openssl.p256.sign", "ECDSA P-256"), ("rsa", "openssl.rsa2048.sign", "RSA-2048")):
        row(f"keyhole pipeline in-process, {label} key (verify RS256 token, sign cookies)",
            f"{num(f'pipeline.{kind}.per_cpu')} sessions per CPU-s",
            f"{ratio(f'pipeline.{kind}.per_cpu', anchor)} OpenSSL's sign rate")
    for kind, label in (("ecdsa", "ECDSA P-256"), ("rsa", "RSA-2048")):
        for c in (1, 4, 16):
            base = f"serve.{kind}.session.c{c}"
            row(f"`keyhole serve` POST /session over HTTP, {label}, {c} connection{'s' if c > 1 else ''}",
                f"{num(base + '.rate')}/s, p50 {num(base + '.p50', 2)} ms, p99 {num(base + '.p99', 2)} ms",
                f"{ratio(base + '.per_cpu', f'serve.{kind}.session.inproc_per_cpu')} in-process per CPU-s"
                if c == 16 else "")
    for c in (1, 4, 16):
        base = f"serve.ecdsa.get.c{c}"
        row(f"`keyhole serve` cookie-checked 2 KB asset GET, {c} connection{'s' if c > 1 else ''}",
            f"{num(base + '.rate')}/s, p50 {num(base + '.p50', 2)} ms, p99 {num(base + '.p99', 2)} ms",
            f"{ratio(base + '.rate', 'openssl.p256.verify')} OpenSSL's P-256 verify rate")
    row("`keyhole serve` cold start (exec to first 200 from POST /session)", num("serve.ecdsa.cold_start_ms", 1, " ms"))
    row("`keyhole serve` peak RSS under the load above", num("serve.ecdsa.peak_rss_kib", 0, " KiB"))
    row("signer peak RSS, 10,000 sessions in-process (ECDSA / RSA)",
        f"{num('pipeline.ecdsa.peak_rss_kib', 0, ' KiB')} / {num('pipeline.rsa.peak_rss_kib', 0, ' KiB')}")
    row("signer Lambda through a local Runtime API: init / first / warm invocation (medians)",
        f"{num('lambda.unlimited.init_ms', 1)} / {num('lambda.unlimited.first_ms', 2)} / "
        f"{num('lambda.unlimited.warm_ms', 2)} ms")
    for size in (128, 256, 512, 1024):
        base = f"lambda.{size}"
        if get(base + ".init_ms") is not None:
            row(f"the same under a {size} MB CPU quota: init / warm p50 / warm p99",
                f"{num(base + '.init_ms', 1)} / {num(base + '.warm_ms', 2)} / {num(base + '.p99_ms', 2)} ms",
                f"${num(base + '.cost_per_million', 3)} Lambda per 1M sessions")
    row("arm64 bootstrap, signer / key-setup",
        f"{num('bootstrap.signer_bytes', 0)} / {num('bootstrap.key_setup_bytes', 0)} bytes")
    peers = (
        ("js-as-documented", "aws-jwt-verify + @aws-sdk/cloudfront-signer, as documented"),
        ("js-key-parsed-once", "the same, private key parsed once"),
        ("python-as-documented", "PyJWT + botocore CloudFrontSigner, as documented"),
        ("python-key-parsed-once", "the same, private key loaded once"),
    )
    for name, label in peers:
        key = f"peers.{name}.per_cpu"
        row(f"peer: {label} (RSA-2048)", f"{num(key)} sessions per CPU-s",
            f"keyhole is {ratio('peers.keyhole-rsa2048.per_cpu', key, 1)} (RSA), "
            f"{ratio('peers.keyhole-ecdsa-p256.per_cpu', key, 1)} (ECDSA)")

    print(f"Machine: {machine()}.")
    print()
    print("| measure | figure | against |")
    print("| --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
