"""``./scripts/answers_csv.sh``: a job's raw answers (Ground Truth's worker-response files) as a table."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

from local_ground_truth.answers_csv import answer_rows, main, question_cells

REPO_ROOT = Path(__file__).resolve().parent.parent


def response_file(folder: Path, object_id: str, name: str, answers: list[dict]) -> None:
    path = folder / "annotations" / "worker-response" / "iteration-1" / object_id / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"answers": answers}))


def an_answer(worker: str, content: dict, submitted: str = "2026-11-30T10:00:00.000Z") -> dict:
    return {"workerId": worker, "answerContent": content, "submissionTime": submitted,
            "acceptanceTime": "2026-11-30T09:59:00.000Z", "timeSpentInSeconds": 60.0, "workerMetadata": None}


def test_each_crowd_elements_answer_is_one_cell_and_a_questions_buttons_one_column():
    cells = question_cells({
        "defect": {"label": "Burn Through"},  # crowd-classifier
        "tags": {"labels": ["rust", "crack"]},  # crowd-classifier-multi-select
        "quality:Sharp": {"Sharp": False}, "quality:Blurry": {"Blurry": True},  # crowd-radio-buttons of one question
        "has_person:Yes": {"on": True},  # a button without a value: its label is in its name
        "needs_reply": {"on": False},  # a lone crowd-checkbox, unticked
        "summary": "=1+1",  # crowd-text-area
        "sections": {"entities": [{"label": "Methods", "startOffset": 3, "endOffset": 9}]},
        "odd": [1, {"x": None}],
    })
    assert cells == {"defect": "Burn Through", "tags": "rust; crack", "quality": "Blurry", "has_person": "Yes",
                     "needs_reply": "", "summary": "=1+1", "sections": '[["Methods", 3, 9]]', "odd": '[1, {"x": null}]'}


def test_rows_follow_object_then_submission_order():
    columns, rows = answer_rows([("10", an_answer("a", {"q": {"label": "x"}}, "2026-11-30T10:00:02.000Z")),
                                 ("2", an_answer("b", {"q": {"label": "y"}}, "2026-11-30T10:00:03.000Z")),
                                 ("2", an_answer("c", {"q": {"label": "z"}, "r": "note"}, "2026-11-30T10:00:01.000Z"))])
    assert columns == ["object", "worker", "started", "submitted", "seconds", "answer: q", "answer: r"]
    assert [(row["object"], row["worker"]) for row in rows] == [("2", "c"), ("2", "b"), ("10", "a")]


def test_a_jobs_folder_is_tabled_and_a_bad_file_is_named_without_sinking_the_rest(tmp_path, capsys):
    job = tmp_path / "output" / "my-job"
    response_file(job, "0", "a.json", [an_answer("ana", {"defect": {"label": "Good Weld"}})])
    response_file(job, "1", "b.json", [an_answer("bo", {"defect": {"label": "Contamination"}})])
    (job / "annotations" / "worker-response" / "iteration-1" / "1" / "torn.json").write_text('{"answers": [')
    (job / "quality-report").mkdir()
    (job / "quality-report" / "defect.json").write_text("{}")  # a job's other file: not an answer, not named
    out = tmp_path / "answers.csv"
    assert main([str(tmp_path / "output"), "-o", str(out)]) == 1  # some file left out
    said = capsys.readouterr().err
    assert "left out" in said and "torn.json" in said and "quality-report" not in said
    assert "2 answers written to" in said
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [(row["object"], row["worker"], row["answer: defect"]) for row in rows] == [
        ("0", "ana", "Good Weld"), ("1", "bo", "Contamination")]


def test_answers_copied_down_to_a_folder_of_another_name_are_tabled(tmp_path, capsys):
    """`aws s3 cp --recursive .../worker-response/iteration-1/ ./answers`: no folder was named worker-response, so
    every file was passed over and the command said there were no answers."""
    job = tmp_path / "job"
    response_file(job, "0", "a.json", [an_answer("ana", {"defect": {"label": "Good Weld"}})])
    response_file(job, "7", "b.json", [an_answer("bo", {"defect": {"label": "Contamination"}})])
    iteration = job / "annotations" / "worker-response" / "iteration-1"
    for copy, source in ((tmp_path / "answers", iteration), (tmp_path / "responses", iteration.parent)):
        shutil.copytree(source, copy)
        out = tmp_path / f"{copy.name}.csv"
        assert main([str(copy), "-o", str(out)]) == 0, capsys.readouterr().err
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        assert [(row["object"], row["worker"]) for row in rows] == [("0", "ana"), ("7", "bo")]


def test_the_script_refuses_a_folder_without_answers(tmp_path):
    done = subprocess.run([str(REPO_ROOT / "scripts" / "answers_csv.sh"), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "no worker-response file under" in done.stderr


def test_typed_formulas_and_escape_sequences_reach_the_table_harmless(tmp_path):
    """What a worker typed is shown, not run: not as a spreadsheet's formula, not as a terminal's escape sequence
    (the answer file keeps it as sent)."""
    job = tmp_path / "output" / "my-job"
    typed = "\x1b[2J\x1b]0;pwned\x07=HYPERLINK(\"http://evil.example\")\nsecond line"
    response_file(job, "0", "a.json", [an_answer("ana", {"summary": typed})])
    out = tmp_path / "answers.csv"
    assert main([str(tmp_path / "output"), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8-sig")
    assert "\x1b" not in text and "\x07" not in text
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["answer: summary"] == "\u241b[2J\u241b]0;pwned\u2407=HYPERLINK(\"http://evil.example\")\nsecond line"
    saved = json.loads((job / "annotations/worker-response/iteration-1/0/a.json").read_text())
    assert saved["answers"][0]["answerContent"]["summary"] == typed
