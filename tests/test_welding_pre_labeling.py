"""The welding pre-labeling Lambda over a real S3 endpoint (moto's server on 127.0.0.1)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gt_common.s3uri import InputError
from welding_pre_labeling import handler
from welding_pre_labeling.plots import decimate
from welding_pre_labeling.sensor_csv import parse_sensor_csv

SEED_CSV = b"0,0.00,150.0,22.00,8.0\n1,0.40,151.0,22.10,8.0\n2,0.80,149.5,21.90,8.0\n3,1.20,150.2,22.05,8.0\n"
HEADERED_CSV = b"Timestamp,Voltage_V,Current_A,Electrode_Position,WireFeed\n0,22.0,150.0,0.0,8\n1,22.1,151.0,0.4,8\n2,21.9,149.5,0.8,8\n"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def fresh_clients():
    handler.s3_client.cache_clear()  # pick up the test endpoint
    yield
    handler.s3_client.cache_clear()


def put(s3, bucket, key, body):
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def run(s3, bucket, csv=SEED_CSV, key="source", dataset=None):
    image = put(s3, bucket, "welding/images/run-01.jpg", b"\xff\xd8jpeg")
    sensor = put(s3, bucket, "welding/sensor/run-01.csv", csv)
    dataset_uri = put(s3, bucket, "welding/datasets/dataset-01.json", json.dumps(
        dataset if dataset is not None else {"image": {"s3Path": image}, "sensor_data": {"s3Path": sensor}}))
    event = {"version": "2018-10-06", "labelingJobArn": "arn:aws:sagemaker:us-east-1:1:labeling-job/j",
             "dataObject": {key: dataset_uri}}
    return handler.lambda_handler(event), image


@pytest.mark.parametrize("csv", [SEED_CSV, HEADERED_CSV], ids=["seed-layout", "headered"])
def test_renders_three_plots_and_returns_the_task_input(s3, bucket, csv):
    result, image = run(s3, bucket, csv)
    assert result["isHumanAnnotationRequired"] == "true"
    task = result["taskInput"]
    assert task["image"] == {"file": image, "title": "Camera image"}
    assert {k: v["title"] for k, v in task.items() if k != "image"} == {
        "current": "Welding current (A)", "electrode": "Electrode position (mm)", "voltage": "Arc voltage (V)"}
    for key in ("current", "electrode", "voltage"):
        uri = task[key]["file"]
        assert uri == f"s3://{bucket}/plots/welding/sensor/run-01/{key}.png"
        body = s3.get_object(Bucket=bucket, Key=uri.split("/", 3)[3])
        assert body["ContentType"] == "image/png" and body["Body"].read().startswith(PNG_MAGIC)


def test_source_ref_is_accepted_too(s3, bucket):
    result, _ = run(s3, bucket, key="source-ref")
    assert result["taskInput"]["voltage"]["file"].endswith("/voltage.png")


def test_both_layouts_map_columns_to_the_right_series():
    seed = parse_sensor_csv(SEED_CSV, "s3://b/seed.csv")
    headered = parse_sensor_csv(HEADERED_CSV, "s3://b/h.csv")
    for series in (seed, headered):
        # Voltage and current are not cross-wired (the seed blog swapped them).
        assert series.current_a[:3].tolist() == [150.0, 151.0, 149.5]
        assert series.voltage_v[:3].tolist() == [22.0, 22.1, 21.9]
        assert series.electrode_mm[:3].tolist() == [0.0, 0.4, 0.8]
        assert series.seconds[:3].tolist() == pytest.approx([0.0, 0.1, 0.2])  # units of 100 ms


def test_the_same_csv_is_not_rendered_twice_but_a_changed_one_is(s3, bucket):
    run(s3, bucket)
    key = "plots/welding/sensor/run-01/current.png"
    first = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    versions = lambda: len(s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []))  # noqa: E731
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    handler.lambda_handler({"dataObject": {"source": f"s3://{bucket}/welding/datasets/dataset-01.json"}})
    assert versions() == 1  # nothing written again
    put(s3, bucket, "welding/sensor/run-01.csv", SEED_CSV.replace(b"150.0", b"190.0"))
    handler.lambda_handler({"dataObject": {"source": f"s3://{bucket}/welding/datasets/dataset-01.json"}})
    assert versions() == 2 and s3.head_object(Bucket=bucket, Key=key)["ETag"] != first


def test_a_set_of_plots_cut_short_or_mixed_is_rendered_again(s3, bucket):
    run(s3, bucket)
    event = {"dataObject": {"source": f"s3://{bucket}/welding/datasets/dataset-01.json"}}
    s3.delete_object(Bucket=bucket, Key="plots/welding/sensor/run-01/current.png")  # the plot checked last
    handler.lambda_handler(event)
    assert s3.head_object(Bucket=bucket, Key="plots/welding/sensor/run-01/current.png")["ContentLength"] > 0
    s3.copy_object(Bucket=bucket, Key="plots/welding/sensor/run-01/electrode.png", MetadataDirective="REPLACE",
                   CopySource={"Bucket": bucket, "Key": "plots/welding/sensor/run-01/electrode.png"},
                   Metadata={handler.ETAG_METADATA: "another-version"}, ContentType="image/png")
    handler.lambda_handler(event)
    head = s3.head_object(Bucket=bucket, Key="plots/welding/sensor/run-01/electrode.png")
    assert head["Metadata"][handler.ETAG_METADATA] == s3.head_object(
        Bucket=bucket, Key="welding/sensor/run-01.csv")["ETag"].strip('"')


def test_a_million_rows_are_decimated_to_the_pixel_width():
    x = np.arange(1_000_000, dtype=float)
    y = np.sin(x / 1000)
    dx, dy = decimate(x, y)
    assert len(dx) <= 2 * 640 and dy.max() == pytest.approx(y.max(), abs=1e-6) and dy.min() == pytest.approx(y.min(), abs=1e-6)
    small_x, small_y = decimate(x[:500], y[:500])
    assert len(small_x) == 500  # short series are drawn point for point


# -- bad input: each error names the thing at fault -----------------------------------------
def test_missing_source_key(s3, bucket):
    with pytest.raises(InputError, match="neither 'source' nor 'source-ref'"):
        handler.lambda_handler({"dataObject": {"text": "hi"}})


def test_source_that_is_not_s3(s3, bucket):
    with pytest.raises(InputError, match=r"dataObject.source 'https://example.com/d.json' is not an S3 URI"):
        handler.lambda_handler({"dataObject": {"source": "https://example.com/d.json"}})


def test_missing_dataset_file(s3, bucket):
    uri = f"s3://{bucket}/welding/datasets/nope.json"
    with pytest.raises(InputError, match=f"dataset file {uri} does not exist"):
        handler.lambda_handler({"dataObject": {"source": uri}})


def test_dataset_not_json(s3, bucket):
    uri = put(s3, bucket, "d.json", b"{not json")
    with pytest.raises(InputError, match=f"dataset file {uri} is not valid JSON"):
        handler.lambda_handler({"dataObject": {"source": uri}})


def test_dataset_without_sensor_path(s3, bucket):
    with pytest.raises(InputError, match=r"dataset-01.json has no sensor_data.s3Path"):
        run(s3, bucket, dataset={"image": {"s3Path": "s3://x/y.jpg"}})


def test_dataset_path_that_is_not_s3(s3, bucket):
    with pytest.raises(InputError, match=r"sensor_data.s3Path in dataset file s3://.*dataset-01.json"):
        run(s3, bucket, dataset={"image": {"s3Path": "s3://x/y.jpg"}, "sensor_data": {"s3Path": "/tmp/run.csv"}})


def test_missing_image(s3, bucket):
    missing = f"s3://{bucket}/welding/images/missing.jpg"
    csv = put(s3, bucket, "welding/sensor/run-01.csv", SEED_CSV)
    with pytest.raises(InputError, match=f"camera image {missing} .*does not exist"):
        run(s3, bucket, dataset={"image": {"s3Path": missing}, "sensor_data": {"s3Path": csv}})


def test_missing_csv(s3, bucket):
    missing = f"s3://{bucket}/welding/sensor/missing.csv"
    image = put(s3, bucket, "i.jpg", b"jpeg")
    with pytest.raises(InputError, match=f"sensor CSV {missing} does not exist"):
        run(s3, bucket, dataset={"image": {"s3Path": image}, "sensor_data": {"s3Path": missing}})


@pytest.mark.parametrize("csv, message", [
    (b"", "is empty"),
    (b"\n\n", "is empty"),
    (b"0,0.0,150,22,8\n1,0.4,abc,22,8\n", r"line 2: 'abc' is not a number"),
    (b"0,0.0,150,22,8\n1,0.4,150\n", r"line 2: 3 columns, expected 5"),
    (b"time,current,voltage\n0,150,22\n", "names no column for electrode"),
    (b"time,electrode,current,voltage\n", "has a header but no data rows"),
    (b"0,1\n1,2\n", "2 columns, expected at least 4"),
    (b"\xff\xfe\x00bad", "is not UTF-8"),
])
def test_bad_csv_is_named_with_the_problem(s3, bucket, csv, message):
    with pytest.raises(InputError, match=rf"sensor CSV s3://{bucket}/welding/sensor/run-01.csv.*{message}"):
        run(s3, bucket, csv)


def test_rendering_imports_nothing_the_bundle_prunes(monkeypatch, tmp_path):
    """Run the renderer in a fresh interpreter with every pruned Python package blocked."""
    import subprocess
    import sys
    from pathlib import Path

    from labeling_constructs.lambda_code import LAMBDA_SRC, bundle_exclusions

    pruned = [p.replace("/", ".") for p in bundle_exclusions(LAMBDA_SRC / "welding_pre_labeling")
              if p.startswith("fontTools/")]
    assert pruned, "expected fontTools subpackages in bundle_exclude.txt"
    script = f"""
import sys
blocked = {pruned!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError("pruned from the Lambda bundle: " + name)
sys.meta_path.insert(0, Block())
from welding_pre_labeling.plots import PlotRenderer
from welding_pre_labeling.sensor_csv import parse_sensor_csv
out = PlotRenderer().render(parse_sensor_csv({SEED_CSV!r}, "s3://b/k.csv"))
assert all(png.startswith(b"\\x89PNG") for _, png, _ in out.values())
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"PYTHONPATH": str(LAMBDA_SRC), "MPLCONFIGDIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip() == "ok", result.stderr
