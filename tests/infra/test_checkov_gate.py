"""The checkov gate (tests/infra/checkov_gate.py) fails where it must: a finding neither fixed nor
skipped, a skip without a reason, a stale skip, a skip outside the template's Metadata. `make
checkov` runs the gate over the real template; these run it over broken copies. The gate runs
with checkov's own venv (.venv-checkov, made by `make deps`)."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "sam-template.yaml"
GATE = ROOT / "tests" / "infra" / "checkov_gate.py"
CHECKOV_PYTHON = pathlib.Path(os.environ.get("KEYHOLE_CHECKOV_PYTHON", ROOT / ".venv-checkov" / "bin" / "python"))

VERSIONING = """      VersioningConfiguration:
        Status: Enabled
"""
SIGNER_SKIPS = """      checkov:
        skip:
          - id: CKV_AWS_116
            comment: No dead-letter queue; API Gateway invokes the signer synchronously and the caller gets the error, so nothing is ever queued.
"""


def gate(tmp_path: pathlib.Path, text: str, cwd: pathlib.Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    if not CHECKOV_PYTHON.exists():
        pytest.fail(f"no checkov venv at {CHECKOV_PYTHON}: `make deps` creates it")
    copy = tmp_path / "template.yaml"
    copy.write_text(text)
    return subprocess.run([str(CHECKOV_PYTHON), str(GATE), str(copy)], capture_output=True, text=True,
                          cwd=cwd or tmp_path, env={**os.environ, **(env or {})}, timeout=300)


def edited(old: str, new: str) -> str:
    text = TEMPLATE.read_text()
    assert text.count(old) == 1, f"the template no longer has exactly one {old!r}"
    return text.replace(old, new)


def test_an_unskipped_finding_and_a_stale_skip_fail_even_with_a_skip_from_outside(tmp_path):
    # Versioning off: CKV_AWS_21 fails on the asset bucket. A skip of a check that never runs on a
    # log group is stale. A .checkov.yaml and CKV_SKIP_CHECK beside the run try to hide CKV_AWS_21.
    text = edited(VERSIONING, "")
    text = text.replace(
        "          - id: CKV_AWS_158\n",
        "          - id: CKV_AWS_20\n            comment: A check for buckets, not log groups.\n          - id: CKV_AWS_158\n", 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".checkov.yaml").write_text("skip-check:\n  - CKV_AWS_21\n")
    run = gate(tmp_path, text, cwd=outside, env={"CKV_SKIP_CHECK": "CKV_AWS_21"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "CKV_AWS_21 failed on AWS::S3::Bucket.AssetBucket" in run.stderr, run.stderr
    assert "CKV_AWS_20 is skipped on AWS::Logs::LogGroup.KeySetupLogGroup but checkov did not report it" in run.stderr, run.stderr


def test_a_skip_without_a_reason_fails(tmp_path):
    text = edited(SIGNER_SKIPS, SIGNER_SKIPS.split("            comment:")[0])
    run = gate(tmp_path, text)
    assert run.returncode == 1
    assert "SignerFunction (Metadata.checkov.skip): CKV_AWS_116 has no reason" in run.stderr, run.stderr


def test_a_skip_comment_instead_of_metadata_fails(tmp_path):
    # A comment would not survive into the CDK construct's JSON template.
    text = edited(VERSIONING, VERSIONING + "      # checkov:skip=CKV_AWS_18:reason\n")
    run = gate(tmp_path, text)
    assert run.returncode == 1
    assert "a checkov:skip comment; declare skips in the resource's Metadata" in run.stderr, run.stderr


def test_a_file_checkov_cannot_read_as_a_template_fails(tmp_path):
    run = gate(tmp_path, "just: text\n")
    assert run.returncode == 1
    assert "not a CloudFormation template" in run.stderr or "no resource" in run.stderr, run.stderr
