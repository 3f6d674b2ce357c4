"""The git revisions the benchmarks compare with by default are commits of this repository: a bench run as the
README shows it (no revision given) must find the code it compares against."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: ``--previous``, ``--before``, ``--baseline`` and ``--before-plots`` given a literal default.
_OPTION_DEFAULT = re.compile(r'add_argument\(\s*"--(?:previous|before|baseline|before-plots)",\s*default="([^"]+)"')
#: A module constant holding a commit (``BEFORE = "b9b8eb5"``, ``BEFORE_ISSUE_12 = "9013338"``).
_COMMIT_CONSTANT = re.compile(r'^[A-Z][A-Z0-9_]* = "([0-9a-f]{7,40})"', re.MULTILINE)


def _default_revisions() -> list[tuple[str, str]]:
    found = []
    for script in sorted((REPO / "bench").glob("*.py")):
        text = script.read_text(encoding="utf-8")
        found += [(script.name, revision) for pattern in (_OPTION_DEFAULT, _COMMIT_CONSTANT)
                  for revision in pattern.findall(text)]
    return found


def _history_at_hand() -> bool:
    try:
        shallow = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--is-shallow-repository"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return False
    return shallow == "false"


def test_the_benchmarks_name_their_default_revisions():
    assert ("bench_worker_memory.py", "633dc95") in _default_revisions()


@pytest.mark.skipif(not _history_at_hand(), reason="needs the repository's whole git history")
def test_every_default_revision_of_a_benchmark_is_a_commit_here():
    missing = [f"{script}: {revision}" for script, revision in _default_revisions()
               if subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                                 capture_output=True).returncode != 0]
    assert not missing, f"default revisions that are not commits of this repository: {missing}"
