"""The generated welding sample data: deterministic, balanced and consistent (what each class shows is
measured in test_welding_defect_signatures.py)."""
from __future__ import annotations

import filecmp
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

import workflows
from gt_common.questions import Classification
from local_ground_truth.truth import checked_truth
from workflows.model import truth_key

REPO = Path(__file__).resolve().parent.parent
WELDING = workflows.definition("welding")
[QUESTION] = WELDING.questions
DATA = REPO / "sample_data" / "welding"
PLACEHOLDER = "${DATA_PREFIX_URI}"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_welding_data", REPO / "scripts" / "generate_welding_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_the_committed_data_byte_for_byte(tmp_path):
    load_generator().generate(tmp_path)
    comparison = filecmp.dircmp(tmp_path, DATA)
    files = [p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file()]
    for relative in files:
        assert (tmp_path / relative).read_bytes() == (DATA / relative).read_bytes(), relative
    assert not comparison.left_only and not comparison.right_only


def test_at_least_three_runs_of_each_real_class():
    truth = json.loads((DATA / "truth.json").read_text())
    counts = Counter(entry[QUESTION.name] for entry in truth.values())
    assert set(counts) == set(QUESTION.choices) - {QUESTION.abstain}  # every class but "cannot tell"
    assert len(truth) >= 18 and min(counts.values()) >= 3


def test_truth_is_keyed_as_the_runner_names_objects_and_fits_the_questions():
    truth = json.loads((DATA / "truth.json").read_text())
    lines = [json.loads(line) for line in (DATA / "manifest.jsonl").read_text().splitlines()]
    names = {str(i): truth_key({k: v.replace(PLACEHOLDER, "s3://b/welding") for k, v in line.items()}, i)
             for i, line in enumerate(lines)}
    assert set(names.values()) == set(truth)
    assert checked_truth(WELDING.questions, truth, names)["0"] == {QUESTION.name: "Good Weld"}


def test_a_class_the_generator_cannot_draw_is_an_error_not_a_guess():
    generator = load_generator()
    renamed = Classification(name="q", choices=("Good Weld", "Porosity", "Not sure"), abstain="Not sure")
    with pytest.raises(SystemExit, match=r"not described: \['Porosity'\].*described but not a class: \['Burn Through'"):
        generator.classes(renamed)


def test_manifest_and_datasets_point_at_existing_files():
    lines = (DATA / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 18
    for line in lines:
        source = json.loads(line)["source"]
        dataset_path = DATA / source.removeprefix(PLACEHOLDER + "/")
        dataset = json.loads(dataset_path.read_text())
        for key in ("image", "sensor_data"):
            assert dataset[key]["s3Path"].startswith(PLACEHOLDER + "/")
            assert (DATA / dataset[key]["s3Path"].removeprefix(PLACEHOLDER + "/")).is_file()
