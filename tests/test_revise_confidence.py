"""./scripts/job_confidence.sh (local_ground_truth.revise_confidence): an output manifest written again with the whole
job's confidences, for a job whose review is off."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_ground_truth import revise_confidence
from workflows import definition

WELDING = definition("welding")
ATTRIBUTE = WELDING.label_attribute_name
QUESTION = WELDING.questions[0]
CLASSES = [label for label in QUESTION.labels if label != QUESTION.abstain]
REPO_ROOT = Path(__file__).resolve().parent.parent


def line(source: str, label: str, confidence: float, temperature: float, answers: float) -> str:
    """A welding output line whose answers make every other class 8 nats less likely than ``label``."""
    evidence = {"temperature": temperature, "answers": answers,
                "classes": {c: [0.0, -8.0] for c in CLASSES if c != label}}
    value = {"label": label, "confidence": confidence, "votes": {label: 3}, "evidence": evidence}
    return json.dumps({"source": source, ATTRIBUTE: {QUESTION.name: value, "workers": 3},
                       f"{ATTRIBUTE}-metadata": {"type": "groundtruth/custom", "human-annotated": "yes"}})


def expected(temperature: float) -> float:
    return round(1.0 / (1.0 + (len(CLASSES) - 1) * math.exp(-8.0 / temperature)), 4)


EARLY = line("early", "Good Weld", 0.9983, 1.0, 30)  # the first batch: T = 1 with 30 answers counted
LATER = line("later", "Burn Through", expected(4.0), 4.0, 300)  # a later batch chose T = 4 on 300
NOT_JSON = '{"source": "torn'
UNLABELED = json.dumps({"source": "failed pre-labeling"}, indent=None, separators=(", ", ": "))


def test_every_label_is_read_with_the_jobs_temperature_and_every_other_line_is_kept_byte_for_byte(caplog):
    text = "\n".join([EARLY, NOT_JSON, UNLABELED, LATER]) + "\n"

    out, summary = revise_confidence.revise_text(text)

    lines = out.splitlines()
    assert len(lines) == 4 and lines[1] == NOT_JSON and lines[2] == UNLABELED
    early, later = (json.loads(lines[i])[ATTRIBUTE][QUESTION.name] for i in (0, 3))
    assert early["label"] == "Good Weld" and early["batch-confidence"] == 0.9983
    assert early["confidence"] == expected(4.0) < 0.9983
    assert later == {**json.loads(LATER)[ATTRIBUTE][QUESTION.name], "batch-confidence": expected(4.0)}
    assert summary == (f"welding: 4 lines, 2 with the job's confidence; mean confidence {expected(4.0):.3f} (as the "
                       f"batches published it: {(0.9983 + expected(4.0)) / 2:.3f})")
    assert "output manifest line 1 is not JSON" in caplog.text  # named, and written as it was


def test_a_manifest_without_evidence_is_written_as_it_was_and_says_why():
    value = {"label": "Good Weld", "confidence": 0.99, "votes": {"Good Weld": 3}}
    text = json.dumps({"source": "a", ATTRIBUTE: {QUESTION.name: value}}) + "\n"
    out, summary = revise_confidence.revise_text(text)
    assert out == text and "0 with the job's confidence (no value carries the worker model's evidence" in summary


@pytest.mark.parametrize("text, workflow, said", [
    (EARLY + "\n", "welds", "--workflow welds: no such workflow (there are "),
    (json.dumps({"source": "a", "other-job": {}}) + "\n", None, "give --workflow: the lines carry the label "
                                                                 "attribute of none"),
])
def test_a_manifest_of_no_known_workflow_is_refused_in_one_line(tmp_path, capsys, text, workflow, said):
    manifest = tmp_path / "output.manifest"
    manifest.write_text(text)
    argv = [str(manifest)] + (["--workflow", workflow] if workflow else [])
    assert revise_confidence.main(argv) == 2
    assert capsys.readouterr().err == f"job_confidence: {manifest}: {said}" + (
        ", ".join(["ner", "welding"]) + ")\n" if workflow else "\n")
    assert manifest.read_text() == text


def test_the_manifest_read_may_be_the_one_written_and_a_missing_one_is_named(tmp_path, capsys):
    manifest = tmp_path / "output.manifest"
    manifest.write_text(EARLY + "\n")
    assert revise_confidence.main([str(manifest), "-o", str(manifest)]) == 0
    assert json.loads(manifest.read_text())[ATTRIBUTE][QUESTION.name]["batch-confidence"] == 0.9983
    assert [p.name for p in tmp_path.iterdir()] == ["output.manifest"]  # no temporary file left
    assert revise_confidence.main([str(tmp_path / "gone.manifest")]) == 2
    assert "gone.manifest: [Errno 2] No such file or directory" in capsys.readouterr().err


def test_it_runs_as_a_command_on_standard_input():
    completed = subprocess.run([sys.executable, "-m", "local_ground_truth.revise_confidence", "-", "--workflow",
                                "welding"], input=EARLY + "\n" + LATER + "\n", capture_output=True, text=True,
                               cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=True)
    first, second = (json.loads(text)[ATTRIBUTE][QUESTION.name] for text in completed.stdout.splitlines())
    assert first["confidence"] == second["confidence"] == expected(4.0)
    assert completed.stderr.startswith("welding: 2 lines, 2 with the job's confidence; mean confidence 0.596")


def test_a_multi_selects_choices_get_the_jobs_confidence_and_count_in_the_mean_as_their_yes_or_no(monkeypatch):
    """A workflow with a MultiSelect: each decided choice is revised with its own evidence, and the summary's mean
    takes it as the confidence of its yes or no (a choice not chosen at 0.0003 is a no at 0.9997)."""
    from types import SimpleNamespace

    from gt_common.questions import MultiSelect

    marks = MultiSelect(name="marks", choices=("a", "b"))
    tagging = SimpleNamespace(name="tagging", label_attribute_name="tags", questions=(marks,))
    monkeypatch.setattr(revise_confidence, "workflow_of", lambda lines, name: tagging)

    def evidence(other: str, temperature: float, answers: float) -> dict:
        return {"temperature": temperature, "answers": answers, "classes": {other: [0.0, -8.0]}}

    early = {"labels": ["a"], "confidence": {"a": 0.9997, "b": 0.0003}, "votes": {"a": 3},
             "evidence": {"a": evidence("No", 1.0, 30), "b": evidence("Yes", 1.0, 30)}}
    later = {"labels": ["b"], "confidence": {"a": 0.0003, "b": 0.8808}, "votes": {"b": 3},
             "evidence": {"a": evidence("Yes", 1.0, 300), "b": evidence("No", 4.0, 300)}}
    text = "".join(json.dumps({"source": s, "tags": {"marks": v, "workers": 3}}) + "\n"
                   for s, v in (("early", early), ("later", later)))

    out, summary = revise_confidence.revise_text(text)

    first = json.loads(out.splitlines()[0])["tags"]["marks"]
    assert first["labels"] == ["a"] and first["batch-confidence"] == {"a": 0.9997, "b": 0.0003}
    assert first["confidence"] == {"a": 0.9997, "b": round(1 - 0.8808, 4)}  # b read with T = 4 of the later batch
    before = (0.9997 * 3 + 0.8808) / 4
    after = (0.9997 * 2 + 0.8808 * 2) / 4
    assert summary == (f"tagging: 2 lines, 2 with the job's confidence; mean confidence {after:.3f} (as the batches "
                       f"published it: {before:.3f})")
