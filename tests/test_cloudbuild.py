"""cloudbuild.yaml: the deploy pipeline's steps, their order and its substitutions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CLOUDBUILD = ROOT / "cloudbuild.yaml"
STEP_ORDER = ["install", "lint", "test", "package", "terraform-init", "terraform-plan",
              "terraform-apply"]


@pytest.fixture(scope="module")
def build() -> dict:
    return yaml.safe_load(CLOUDBUILD.read_text())


def _steps(build: dict) -> dict[str, dict]:
    return {step["id"]: step for step in build["steps"]}


def _text(step: dict) -> str:
    return " ".join(str(arg) for arg in step.get("args", []))


def test_cloudbuild_step_order(build):
    assert [step["id"] for step in build["steps"]] == STEP_ORDER


def test_cloudbuild_lint_runs_ruff_and_checkov(build):
    lint = _text(_steps(build)["lint"])
    assert "ruff check" in lint
    assert ".ci/checkov.sh" in lint


def test_cloudbuild_tests_skip_stack(build):
    assert 'pytest -m "not stack"' in _text(_steps(build)["test"])


def test_cloudbuild_package_feeds_plan(build):
    steps = _steps(build)
    assert "simtel package --out dist/functions" in _text(steps["package"])
    assert steps["terraform-plan"]["dir"] == "terraform"
    assert "-var=package_dir=../dist/functions" in steps["terraform-plan"]["args"]


def test_cloudbuild_init_uses_state_bucket(build):
    init = _text(_steps(build)["terraform-init"])
    assert '-backend-config="bucket=${_TF_STATE_BUCKET}"' in init
    assert '-backend-config="prefix=${_TF_STATE_PREFIX}"' in init


def test_cloudbuild_applies_saved_plan(build):
    steps = _steps(build)
    assert "-out=tfplan" in steps["terraform-plan"]["args"]
    assert "terraform apply -input=false tfplan" in _text(steps["terraform-apply"])
    assert steps["terraform-apply"]["dir"] == "terraform"


def test_cloudbuild_substitutions_declared_used_documented(build):
    text = CLOUDBUILD.read_text()
    body = text.split("\nsteps:", 1)[1]
    declared = set(build["substitutions"])
    used = set(re.findall(r"\$\{(_[A-Z0-9_]+)\}", body))
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    # Every substitution a step reads has a default here and a line in the header comment.
    assert used == declared
    for name in declared:
        assert f"#   {name} " in header, f"{name} is not described in the header comment"
