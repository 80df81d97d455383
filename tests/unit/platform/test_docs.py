"""The repository documents itself: docs/architecture.md names every folder of the core package,
and code and docs cite only documents inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "layers/core/botscope"
OUTSIDE_DOCUMENTS = re.compile(
    r"(?<![\w/])(?:API|SCANNER|ARCHITECTURE|STYLE)\.md|signatures\.md|api-anchors\.md|\.\./shared"
)


def test_architecture_names_every_folder_of_the_core_package() -> None:
    text = (ROOT / "docs/architecture.md").read_text()
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__"))
    assert len(folders) >= 10
    assert [f for f in folders if f"botscope/{f}/" not in text] == []


def test_the_documents_the_docs_link_to_exist() -> None:
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for target in re.findall(r"\]\(([\w.\-]+\.(?:md|json))\)", doc.read_text()):
            assert (ROOT / "docs" / target).exists(), (doc.name, target)


def test_code_and_docs_cite_only_documents_in_the_repository() -> None:
    offenders = []
    sources = [
        *ROOT.glob("layers/**/*.py"),
        *ROOT.glob("functions/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("docs/*.md"),
        ROOT / "README.md",
    ]
    for path in sources:
        if path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE_DOCUMENTS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []
