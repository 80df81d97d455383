"""Real captured responses (tests/corpus) checked against their ``expect`` block, in process.

Each corpus file is played as a site (no network): with serve_path "/" every path answers with the
captured response; with a policy serve_path that file answers with it, "/" is a neutral page and
the other policy files are 404. The observations then go through build_observation and
build_report exactly as in a scan.
"""

from __future__ import annotations

from typing import Any

import pytest
from botscope.scanner.observe import build_observation
from botscope.scanner.report import build_report

from tests.fixtures.corpus import check_report
from tests.unit.scanner._helpers import (
    POLICY_PATHS,
    PROFILES,
    corpus_files,
    fetch_result,
    fixture_fetch,
    load_fixture,
    plan_for,
    spec,
)

NEUTRAL_PAGE = (
    "<!DOCTYPE html><html><head><title>Home</title></head><body><h1>Welcome</h1>"
    "<p>Plain page with no markers.</p></body></html>"
)
CORPUS = corpus_files()


def play(doc: dict[str, Any]) -> dict[str, Any]:
    serve_path = doc["expect"]["serve_path"]
    specs = [spec("/", profile) for profile in PROFILES] + [spec(path) for path in POLICY_PATHS]
    observations = []
    for run in specs:
        if serve_path == "/" or run.path == serve_path:
            fetch = fixture_fetch(doc, run.path)
        elif run.path == "/":
            fetch = fetch_result(200, {"content-type": "text/html"}, NEUTRAL_PAGE)
        else:
            fetch = fetch_result(
                404, {"content-type": "text/html"}, "<html><title>Not found</title></html>", path=run.path
            )
        observations.append(build_observation(run, fetch))
    return build_report(
        plan_for(specs), observations, scan_job_id="scan_corpus", started_at=None, completed_at=None
    )


def test_corpus_is_available() -> None:
    assert len(CORPUS) >= 150


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_expectations(path) -> None:
    doc = load_fixture(path)
    report = play(doc)
    assert check_report(report, doc["expect"]) == []


def test_challenged_corpus_page_is_challenged_for_every_profile() -> None:
    doc = next(load_fixture(p) for p in CORPUS if p.stem == "cloudflare__1")
    report = play(doc)
    page_runs = [r for r in report["path_runs"] if r["path"] == "/"]
    assert {r["outcome"] for r in page_runs} == {"challenged"}
    # the browser baseline itself was challenged: a finding, not an error
    assert any(f["category"] == "scan" for f in report["findings"])
    assert report["status"] == "completed"
