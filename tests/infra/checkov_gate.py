"""checkov over a CloudFormation template, as a gate: the build fails on any finding that is neither
fixed nor skipped in the template itself.

    checkov_gate.py TEMPLATE [CHECKOV]

Runs with the Python of checkov's own venv (.venv-checkov, made by `make deps`: checkov pins a
boto3 that the SAM CLI's pin excludes). CHECKOV is that venv's checkov executable, by default the
one beside this interpreter.

A skip is a `checkov` entry in the resource's Metadata, one line of reason each:

    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_117
            comment: No VPC; the function reaches only AWS public endpoints.

Metadata rather than `# checkov:skip=` comments, because the CDK construct's template is JSON: a
comment would not survive into it, Metadata does. The gate fails when
- checkov reports a failed check;
- checkov could not parse the template, or found no resource in it (nothing checked is no pass);
- a skip has no reason, a reason of more than one line, or an id that is not a check id;
- a skip declared in the template is not reported by checkov (a typo, or a check that no longer
  applies to that resource: stale skips hide nothing and mislead);
- checkov reports a skip the template does not declare (one that came from outside, such as a
  config file or an environment variable).
checkov runs in an empty folder with the CKV_/BC_/CHECKOV_ environment left out, so no stray
.checkov.yaml or variable changes what is checked, and with --skip-download, so it never asks a
server for anything.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

CHECK_ID = re.compile(r"CKV2?_AWS_[0-9]+")
INLINE_SKIP = re.compile(r"checkov:skip", re.I)
MAX_REASON = 200


class GateError(Exception):
    pass


def declared_skips(template: pathlib.Path) -> dict[tuple[str, str], str]:
    """(resource 'Type.LogicalId', check id) -> reason, from every resource's Metadata. Raises
    GateError on a malformed declaration."""
    from checkov.cloudformation.parser import parse

    text = template.read_text()
    for n, line in enumerate(text.splitlines(), 1):
        if INLINE_SKIP.search(line):
            raise GateError(f"{template}:{n}: a checkov:skip comment; declare skips in the resource's Metadata (checkov: skip: - id, comment)")
    definitions, _ = parse(str(template))
    if not isinstance(definitions, dict) or not isinstance(definitions.get("Resources"), dict):
        raise GateError(f"{template}: not a CloudFormation template with Resources")
    problems = []
    skips: dict[tuple[str, str], str] = {}
    for logical_id, resource in definitions["Resources"].items():
        if not isinstance(resource, dict) or logical_id.startswith("__"):
            continue
        entries = ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip")
        if entries is None:
            continue
        where = f"{logical_id} (Metadata.checkov.skip)"
        if not isinstance(entries, list):
            problems.append(f"{where}: must be a list of {{id, comment}}")
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                problems.append(f"{where}: entry {entry!r} is not {{id, comment}}")
                continue
            check_id, reason = entry.get("id"), entry.get("comment")
            if not isinstance(check_id, str) or not CHECK_ID.fullmatch(check_id):
                problems.append(f"{where}: {check_id!r} is not a checkov AWS check id")
                continue
            if not isinstance(reason, str) or not reason.strip():
                problems.append(f"{where}: {check_id} has no reason (comment)")
                continue
            if "\n" in reason.strip() or len(reason) > MAX_REASON:
                problems.append(f"{where}: {check_id}'s reason must be one line of at most {MAX_REASON} characters")
                continue
            key = (f"{resource.get('Type')}.{logical_id}", check_id)
            if key in skips:
                problems.append(f"{where}: {check_id} is skipped twice")
            skips[key] = reason.strip()
    if problems:
        raise GateError("\n".join(problems))
    return skips


def run_checkov(checkov: str, template: pathlib.Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CKV_", "BC_", "CHECKOV_", "PRISMA_"))}
    with tempfile.TemporaryDirectory(prefix="keyhole-checkov-") as empty:
        run = subprocess.run(
            [checkov, "--file", str(template.resolve()), "--framework", "cloudformation", "--skip-download",
             "--output", "json"],
            cwd=empty, env=env, capture_output=True, text=True,
        )
    # checkov exits 1 when a check fails; the report says everything, so its exit code is not read.
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        raise GateError(f"checkov gave no JSON report (exit {run.returncode}):\n{run.stderr.strip()[-2000:]}")
    reports = report if isinstance(report, list) else [report]
    found = [r for r in reports if isinstance(r, dict) and r.get("check_type") == "cloudformation"]
    if len(found) != 1:
        raise GateError(f"checkov reported no CloudFormation results for {template} (exit {run.returncode}): {json.dumps(report)[:500]}")
    return found[0]


def gate(template: pathlib.Path, checkov: str) -> list[str]:
    """Problems that fail the build (empty: the template passes); prints the outcome of every check."""
    skips = declared_skips(template)
    report = run_checkov(checkov, template)
    summary, results = report["summary"], report["results"]
    problems = []
    if summary.get("parsing_errors"):
        problems.append(f"checkov could not parse {template}: {results.get('parsing_errors')}")
    if not summary.get("resource_count"):
        problems.append(f"checkov found no resource in {template}")

    outcomes: dict[str, dict[str, int]] = {}
    for kind, label in (("passed_checks", "passed"), ("failed_checks", "FAILED"), ("skipped_checks", "skipped")):
        for c in results.get(kind, []):
            outcomes.setdefault(c["check_id"], {}).setdefault(label, 0)
            outcomes[c["check_id"]][label] += 1
    for c in results.get("failed_checks", []):
        lines = c.get("file_line_range") or ["?", "?"]
        problems.append(f"{c['check_id']} failed on {c['resource']} (lines {lines[0]}-{lines[1]}): {c['check_name']}; "
                        "fix it, or skip it in the resource's Metadata with a one-line reason")
    reported = set()
    for c in results.get("skipped_checks", []):
        key = (c["resource"], c["check_id"])
        reported.add(key)
        if key not in skips:
            problems.append(f"{c['check_id']} on {c['resource']} was skipped from outside the template "
                            f"({c['check_result'].get('suppress_comment')!r}); skips belong in the resource's Metadata")
    for (resource, check_id) in sorted(set(skips) - reported):
        problems.append(f"{check_id} is skipped on {resource} but checkov did not report it: a typo or a stale skip; remove it")

    print(f"checkov {summary.get('checkov_version')} on {template}: {summary['passed']} passed, "
          f"{summary['failed']} failed, {summary['skipped']} skipped, {summary.get('resource_count')} resources")
    for check_id in sorted(outcomes, key=lambda i: (i.startswith("CKV2"), int(i.rsplit("_", 1)[1]))):
        counts = ", ".join(f"{n} {label}" for label, n in sorted(outcomes[check_id].items()))
        print(f"  {check_id}: {counts}")
    for (resource, check_id), reason in sorted(skips.items()):
        print(f"  skip {check_id} on {resource}: {reason}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    template = pathlib.Path(argv[1])
    checkov = argv[2] if len(argv) == 3 else str(pathlib.Path(sys.executable).parent / "checkov")
    if not template.is_file():
        print(f"checkov gate: no template {template}", file=sys.stderr)
        return 2
    try:
        problems = gate(template, checkov)
    except GateError as e:
        problems = [str(e)]
    for p in problems:
        print(f"checkov gate: {p}", file=sys.stderr)
    if problems:
        print(f"checkov gate: {template} FAILED ({len(problems)} problems)", file=sys.stderr)
        return 1
    print(f"checkov gate: {template} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
