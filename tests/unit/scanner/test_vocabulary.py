"""The scan vocabulary (``botscope.scanner.vocabulary``) and every place that spells its words:
the report schema, the API's response models, the report view, the scoring data, the findings'
recommendations, the plan and the scanner's own source. A word added to or renamed in one of
them and not in the vocabulary fails here."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest
from botscope import errors
from botscope.api.problems import _STATUS_CODES
from botscope.api.routes import scans as scan_routes
from botscope.reporting import view
from botscope.scanner import vocabulary as vocab
from botscope.scanner.critical_paths import CRITICAL_CATEGORIES, HIGH_VALUE_CATEGORIES, LOGIN_CATEGORY
from botscope.scanner.findings import RECOMMENDATIONS
from botscope.scanner.model import Layer, Measure, ProbeError
from botscope.scanner.plan import build_plan
from botscope.scanner.profiles import ALL_PROFILE_IDS
from botscope.scanner.scoring import scoring_table
from botscope.workflow.stages import CANCELLED_RUN_ERROR

from tests.unit.scanner._helpers import REPO, target

SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))
SCANNER_DIR = REPO / "layers" / "core" / "botscope" / "scanner"
REPORT_DOC = (REPO / "docs" / "report.md").read_text(encoding="utf-8")


def _enum(*path: str) -> list[Any]:
    node: Any = SCHEMA
    for key in path:
        node = node[key]
    return list(node["enum"])


def _field_values(model: Any, name: str) -> set[str]:
    """The values a response model's Literal field allows (None left out)."""
    annotation = model.model_fields[name].annotation
    values: set[str] = set()
    stack = [annotation]
    while stack:
        item = stack.pop()
        args = get_args(item)
        if args:
            stack.extend(args)
        elif isinstance(item, str):
            values.add(item)
    return values


# --- the report schema (docs/report.schema.json) --------------------------------------------------


@pytest.mark.parametrize(
    ("schema_path", "values"),
    [
        (("$defs", "outcome"), list(get_args(vocab.Outcome))),
        (("$defs", "severity"), list(vocab.SEVERITIES)),
        (("$defs", "finding_status"), list(get_args(vocab.FindingStatus))),
        (("$defs", "finding_category"), list(get_args(vocab.FindingCategory))),
        (("$defs", "path_run", "properties", "kind"), list(get_args(vocab.PathKind))),
        (("$defs", "measure"), list(get_args(Measure))),
        (("$defs", "layer"), list(get_args(Layer))),
        (("$defs", "profile"), [*ALL_PROFILE_IDS, "rendered"]),
        (("properties", "summary", "properties", "posture"), list(get_args(vocab.Posture))),
        (("properties", "summary", "properties", "baseline"), list(get_args(vocab.Baseline))),
        (("properties", "enforcement", "items", "properties", "verdict"), list(get_args(vocab.Verdict))),
    ],
    ids=lambda v: "/".join(v) if isinstance(v, tuple) else None,
)
def test_schema_enum_is_the_vocabulary(schema_path: tuple[str, ...], values: list[str]) -> None:
    assert _enum(*schema_path) == values


def test_schema_declared_and_observed_are_the_vocabulary() -> None:
    enforcement = ("properties", "enforcement", "items", "properties")
    assert set(_enum(*enforcement, "declared")) == vocab.DECLARED_VALUES
    assert set(_enum(*enforcement, "observed")) == vocab.OBSERVED_VALUES
    assert vocab.OBSERVED_VALUES == vocab.OUTCOMES | {"served_different"}


def test_derived_sets_stay_inside_their_vocabulary() -> None:
    assert set(_enum("$defs", "path_run", "properties", "kind")) == vocab.PATH_KINDS
    assert set(_enum("properties", "summary", "properties", "baseline")) == vocab.BASELINES
    assert vocab.STOPPED_OUTCOMES < vocab.OUTCOMES
    assert vocab.NO_ANSWER_OUTCOMES < vocab.OUTCOMES
    assert not vocab.STOPPED_OUTCOMES & vocab.NO_ANSWER_OUTCOMES
    assert vocab.STOPPING_VERDICTS < vocab.VERDICTS
    assert vocab.QUIET_VERDICTS < vocab.VERDICTS
    assert "inconclusive" in vocab.RENDERED_VERDICTS
    assert vocab.TIMEOUT in vocab.PROBE_ERROR_CODES
    assert vocab.TOO_MANY_REDIRECTS in vocab.PROBE_ERROR_CODES


# --- the words in the docs --------------------------------------------------------------------------


def _vocabulary_section() -> dict[str, list[str]]:
    """docs/report.md "Vocabulary": one ``- name: `a`, `b`, …`` line per set."""
    section = REPORT_DOC.split("## Vocabulary", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^- \*\*([a-z_ ]+)\*\*[^:]*: (.+)$", section, re.MULTILINE)
    return {name: re.findall(r"`([^`]+)`", values) for name, values in lines}


def test_report_doc_lists_every_set_of_the_vocabulary() -> None:
    listed = _vocabulary_section()
    assert listed == {
        "path kinds": list(get_args(vocab.PathKind)),
        "outcomes": list(get_args(vocab.Outcome)),
        "declared": list(get_args(vocab.Declared)),
        "verdicts": list(get_args(vocab.Verdict)),
        "rendered verdicts": list(get_args(vocab.RenderedVerdict)),
        "severities": list(vocab.SEVERITIES),
        "finding statuses": list(get_args(vocab.FindingStatus)),
        "finding categories": list(get_args(vocab.FindingCategory)),
        "path categories": [vocab.TARGET_CATEGORY]
        + [name for name, _ in CRITICAL_CATEGORIES]
        + [f.name for f in vocab.POLICY_FILES + vocab.FULL_ONLY_POLICY_FILES]
        + [vocab.NOT_FOUND_PROBE_CATEGORY],
        "policy files": [f.path for f in vocab.POLICY_FILES + vocab.FULL_ONLY_POLICY_FILES],
        "path run error codes": list(get_args(vocab.ProbeErrorCode)),
    }


def test_every_api_error_code_is_documented() -> None:
    """The API's error codes are defined with their error classes (``botscope.errors``) and the
    status fallbacks of ``botscope.api.problems``; docs/api.md "Errors" lists every one, except
    the scan's own failure codes that docs/workflow.md lists."""
    codes = set(_STATUS_CODES.values())
    classes = [errors.BotScopeError]
    while classes:
        cls = classes.pop()
        codes.add(cls.code)
        classes.extend(cls.__subclasses__())
    api_doc = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+)`", api_doc.split("## Errors", 1)[1].split("\n## ", 1)[0]))
    workflow_doc = set(
        re.findall(r"`([a-z_]+)`", (REPO / "docs" / "workflow.md").read_text(encoding="utf-8"))
    )
    assert codes - documented - workflow_doc == set()
    assert errors.TargetUnreachable.code in workflow_doc


# --- the layers above the scanner ---------------------------------------------------------------------


def test_api_response_models_use_the_vocabulary() -> None:
    assert _field_values(scan_routes.PathRun, "outcome") == vocab.OUTCOMES
    assert _field_values(scan_routes.Finding, "status") == vocab.FINDING_STATUSES
    assert _field_values(scan_routes.Finding, "severity") == set(vocab.SEVERITIES)
    assert _field_values(scan_routes.Finding, "layer") == set(get_args(Layer))


def test_scan_modes_are_the_vocabulary_everywhere() -> None:
    from botscope.api.routes import monitoring as monitoring_routes
    from botscope.cli import build_parser

    modes = set(vocab.SCAN_MODES)
    assert set(_enum("properties", "scan_mode")) == modes
    assert _field_values(scan_routes.CreateScanRequest, "scan_mode") == modes
    for model in (scan_routes.ScanStatus, monitoring_routes.MonitoredUrlResource):
        assert _field_values(model, "scan_mode") == modes
    parser = build_parser()
    for mode in modes:
        assert parser.parse_args(["scan", "https://example.com/", "--mode", mode]).mode == mode
    with pytest.raises(SystemExit):
        parser.parse_args(["scan", "https://example.com/", "--mode", "thorough"])
    # No layer spells the modes out again.
    spelled = re.compile(
        r"""\(\s*["'](full|quick)["']\s*,\s*["'](full|quick)["']\s*\)|Literal\[["'](full|quick)"""
    )
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "layers" / "core" / "botscope").rglob("*.py")
        if path.name != "vocabulary.py" and spelled.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_report_view_styles_every_word_of_the_vocabulary() -> None:
    assert vocab.OUTCOMES <= set(view.OUTCOME_STYLES)
    assert set(view.VERDICT_STYLES) == vocab.VERDICTS
    assert set(view.SEVERITY_STYLES) == set(vocab.SEVERITIES)
    assert list(view.SEVERITY_ORDER) == list(reversed(vocab.SEVERITIES))
    assert set(view.POSTURE_ORDER) == vocab.POSTURES - {"unknown"}
    assert vocab.STOPPED_OUTCOMES <= set(view.STOPPING_OUTCOMES)


def test_scoring_data_names_only_vocabulary_words() -> None:
    table = scoring_table()
    assert set(table["enforcement"]) <= vocab.VERDICTS
    assert set(table["measures"]) <= set(get_args(Measure))


def test_every_verdict_that_raises_a_finding_has_a_recommendation() -> None:
    assert vocab.VERDICTS - vocab.QUIET_VERDICTS <= set(RECOMMENDATIONS)


def test_critical_categories_hold_the_named_ones() -> None:
    names = {name for name, _ in CRITICAL_CATEGORIES}
    assert LOGIN_CATEGORY in names
    assert HIGH_VALUE_CATEGORIES < names
    assert vocab.TARGET_CATEGORY not in names and vocab.NOT_FOUND_PROBE_CATEGORY not in names


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_plan_fetches_the_vocabulary_policy_files(mode: str) -> None:
    plan = build_plan(target(), mode)  # type: ignore[arg-type]
    files = vocab.POLICY_FILES + (vocab.FULL_ONLY_POLICY_FILES if mode == "full" else ())
    policy_runs = [(run.path, run.category) for run in plan.path_runs if run.kind == "policy"]
    assert policy_runs == [(f.path, f.name) for f in files]
    categories = {run.category for run in plan.path_runs if run.kind != "policy"}
    assert categories == {vocab.TARGET_CATEGORY, vocab.NOT_FOUND_PROBE_CATEGORY}


# --- the scanner's source -----------------------------------------------------------------------------


def _scanner_sources() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(SCANNER_DIR.rglob("*.py"))]


def test_policy_file_paths_are_spelled_only_in_the_vocabulary() -> None:
    paths = set(vocab.POLICY_PATHS)
    spelled = [
        f"{path.relative_to(SCANNER_DIR)} {node.value}"
        for path, tree in _scanner_sources()
        if path.name != "vocabulary.py"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in paths
    ]
    assert spelled == []


def _raised_error_codes() -> list[tuple[str, str]]:
    """(where, code) of every literal error code the scanner gives a path run: ``ProbeError(code=…)``
    and the first argument of the HTTP client's failure exceptions."""
    found = []
    for path, tree in _scanner_sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            candidates: list[ast.expr] = []
            if name == ProbeError.__name__:
                candidates = [k.value for k in node.keywords if k.arg == "code"]
            elif name in ("_FetchFailure", "CurlFailure") and node.args:
                candidates = [node.args[0]]
            for arg in candidates:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((f"{path.relative_to(SCANNER_DIR)}:{node.lineno}", arg.value))
    return found


def test_path_run_error_codes_are_the_vocabulary() -> None:
    raised = _raised_error_codes()
    assert len(raised) >= 10  # the search sees the HTTP client, the browser and the engine
    assert [(where, code) for where, code in raised if code not in vocab.PROBE_ERROR_CODES] == []
    # the guard's own codes reach a path run through the exception that carries them
    assert {errors.TargetNotPublic.code, errors.TargetUnresolvable.code} <= vocab.PROBE_ERROR_CODES
    # the pipeline's code for a path run a cancelled scan never ran
    assert CANCELLED_RUN_ERROR["code"] in vocab.PROBE_ERROR_CODES
