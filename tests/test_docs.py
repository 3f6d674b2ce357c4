"""The README and docs/ point at what exists: every relative link's file and heading, and every file of the
repository they name in backticks (moving a module or a section must move what points at it)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cdk_helpers import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
#: Where the repository's own files live; a backticked text starting so names one of them.
REPO_FOLDERS = ("lambda_src/", "local_ground_truth/", "labeling_constructs/", "stacks/", "workflows/", "scripts/",
                "tests/", "bench/", "ui_templates/", "sample_data/", "text_extraction/", "docs/", "./scripts/")


def _outside_code_blocks(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def heading_anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in _outside_code_blocks(page.read_text(encoding="utf-8")) if line.startswith("#")}


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
            broken.append(f"{target}: no such heading")
    return broken


def missing_files(page: Path) -> list[str]:
    named = re.findall(r"`([^`\s]+)`", page.read_text(encoding="utf-8"))
    paths = {text.rstrip(".,:;") for text in named if text.startswith(REPO_FOLDERS) and not re.search(r"[<*{$]", text)}
    return sorted(path for path in paths if not (REPO_ROOT / path).exists())


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(REPO_ROOT).as_posix())
def test_every_link_reaches_its_file_and_heading(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(REPO_ROOT).as_posix())
def test_every_file_named_exists(page):
    assert missing_files(page) == []


def test_the_checks_see_a_broken_link_and_a_missing_file(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](#title) [b](#gone) [c](nowhere.md) [d](https://example.org)\n"
                    "`local_ground_truth/server.py` `local_ground_truth/no_such_module.py` `.local-gt/<job>/`\n",
                    encoding="utf-8")
    assert broken_links(page) == ["#gone: no such heading", "nowhere.md: no such file"]
    assert missing_files(page) == ["local_ground_truth/no_such_module.py"]
