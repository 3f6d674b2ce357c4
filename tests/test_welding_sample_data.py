"""The generated welding sample data: deterministic, balanced, consistent, and physically plausible."""
from __future__ import annotations

import filecmp
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import workflows
from gt_common.questions import Classification
from local_ground_truth.truth import checked_truth
from welding_pre_labeling.sensor_csv import parse_sensor_csv
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


def series_by_class():
    truth = json.loads((DATA / "truth.json").read_text())
    out = {}
    for dataset, entry in truth.items():
        kind = entry[QUESTION.name]
        csv = DATA / "sensor" / f"run-{dataset.split('-')[1]}.csv"
        out.setdefault(kind, []).append(parse_sensor_csv(csv.read_bytes(), str(csv)))
    return out


@pytest.fixture(scope="module")
def traces():
    return series_by_class()


def test_traces_differ_by_defect_as_an_engineer_expects(traces):
    good = traces["Good Weld"]
    mean = lambda runs, attr: np.mean([getattr(r, attr).mean() for r in runs])  # noqa: E731
    noise = lambda runs, attr: np.mean([np.diff(getattr(r, attr)).std() for r in runs])  # noqa: E731
    speed = lambda runs: np.mean([(r.electrode_mm[-1] - r.electrode_mm[0]) / r.seconds[-1] for r in runs])  # noqa: E731
    assert mean(traces["Lack of Fusion"], "current_a") < mean(good, "current_a") - 40
    assert all(r.voltage_v.max() > 40 and r.current_a.min() < 15 for r in traces["Burn Through"])  # arc breaks
    assert noise(traces["Lack of Shielding Gas"], "voltage_v") > 4 * noise(good, "voltage_v")
    assert all((r.voltage_v - np.median(r.voltage_v) > 4).sum() >= 5 for r in traces["Contamination"])
    assert speed(traces["High Travel Speed"]) > 2 * speed(good)
    assert all(abs(r.current_a.mean() - 150) < 5 and r.voltage_v.max() < 25 for r in good)
