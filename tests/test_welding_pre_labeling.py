"""The welding pre-labeling Lambda over a real S3 endpoint (moto's server on 127.0.0.1)."""
from __future__ import annotations

import io
import json
import struct
import time
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

import workflows
from gt_common.configuration import DERIVED_DATA_PREFIX_ENV, ConfigurationError
from gt_common.s3uri import InputError
from welding_pre_labeling import handler
from welding_pre_labeling.plots import (
    BAND_COLOUR, HEIGHT_PX, MARGIN_PX, MAX_BUCKETS, PLOTS, WIDTH_PX, PlotRenderer, decimate, elapsed_seconds, frame,
    speed_text,
)
from welding_pre_labeling.procedure import CURRENT, TIME_AXIS_S, TRAVEL_AXIS_MM, TRAVEL_MM_S, VOLTAGE, Span
from welding_pre_labeling.sensor_csv import SENSOR_BOUNDS, SensorSeries, parse_sensor_csv

WELDING = workflows.definition("welding")
SAMPLE = WELDING.sample_data_dir
CAMERA_JPEG = (SAMPLE / "images" / "run-01.jpg").read_bytes()
SEED_CSV = b"0,0.00,150.0,22.00,8.0\n1,0.40,151.0,22.10,8.0\n2,0.80,149.5,21.90,8.0\n3,1.20,150.2,22.05,8.0\n"
HEADERED_CSV = b"Timestamp,Voltage_V,Current_A,Electrode_Position,WireFeed\n0,22.0,150.0,0.0,8\n1,22.1,151.0,0.4,8\n2,21.9,149.5,0.8,8\n"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch):
    monkeypatch.setenv(DERIVED_DATA_PREFIX_ENV, WELDING.derived_data_prefix)  # as the stack sets it
    handler.s3_client.cache_clear()  # pick up the test endpoint
    yield
    handler.s3_client.cache_clear()


def put(s3, bucket, key, body):
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def run(s3, bucket, csv=SEED_CSV, key="source", dataset=None, image_body=CAMERA_JPEG):
    image = put(s3, bucket, "welding/images/run-01.jpg", image_body)
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
        assert uri == f"s3://{bucket}/plots/welding/sensor/run-01.csv/{key}.png"
        body = s3.get_object(Bucket=bucket, Key=uri.split("/", 3)[3])
        assert body["ContentType"] == "image/png" and body["Body"].read().startswith(PNG_MAGIC)


def test_without_its_derived_data_prefix_the_function_fails_before_reading_anything(s3, bucket, monkeypatch):
    monkeypatch.delenv(DERIVED_DATA_PREFIX_ENV)
    with pytest.raises(ConfigurationError, match=f"{DERIVED_DATA_PREFIX_ENV} is not set"):
        run(s3, bucket)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=WELDING.derived_data_prefix)


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
    key = "plots/welding/sensor/run-01.csv/current.png"
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
    s3.delete_object(Bucket=bucket, Key="plots/welding/sensor/run-01.csv/current.png")  # the plot checked last
    handler.lambda_handler(event)
    assert s3.head_object(Bucket=bucket, Key="plots/welding/sensor/run-01.csv/current.png")["ContentLength"] > 0
    s3.copy_object(Bucket=bucket, Key="plots/welding/sensor/run-01.csv/electrode.png", MetadataDirective="REPLACE",
                   CopySource={"Bucket": bucket, "Key": "plots/welding/sensor/run-01.csv/electrode.png"},
                   Metadata={handler.ETAG_METADATA: "another-version"}, ContentType="image/png")
    handler.lambda_handler(event)
    head = s3.head_object(Bucket=bucket, Key="plots/welding/sensor/run-01.csv/electrode.png")
    assert head["Metadata"][handler.ETAG_METADATA] == s3.head_object(
        Bucket=bucket, Key="welding/sensor/run-01.csv")["ETag"].strip('"')


def test_a_failed_plot_write_fails_the_item_after_the_others_finish_and_a_retry_renders_again(s3, bucket, monkeypatch):
    """The three plots are written in parallel: one refused write fails the item (naming nothing wrong
    with the input, it is S3's error), the other two land, and the retry finds the set cut short."""
    client = handler.s3_client()
    real_put = client.put_object

    def refuse_electrode(**kwargs):
        if kwargs["Key"].endswith("/electrode.png"):
            raise RuntimeError("S3 refused the write")
        return real_put(**kwargs)

    monkeypatch.setattr(client, "put_object", refuse_electrode)
    with pytest.raises(RuntimeError, match="S3 refused the write"):
        run(s3, bucket)
    written = {item["Key"].rsplit("/", 1)[1] for item in s3.list_objects_v2(Bucket=bucket, Prefix="plots/")["Contents"]}
    assert written == {"current.png", "voltage.png"}
    monkeypatch.setattr(client, "put_object", real_put)
    handler.lambda_handler({"dataObject": {"source": f"s3://{bucket}/welding/datasets/dataset-01.json"}})
    assert s3.head_object(Bucket=bucket, Key="plots/welding/sensor/run-01.csv/electrode.png")["ContentLength"] > 0


def test_a_million_rows_are_decimated_to_the_pixel_width():
    x = np.arange(1_000_000, dtype=float)
    y = np.sin(x / 1000)
    dx, dy = decimate(x, y)
    assert MAX_BUCKETS == WIDTH_PX and len(dx) <= 2 * WIDTH_PX and dy.max() == pytest.approx(y.max(), abs=1e-6) and dy.min() == pytest.approx(y.min(), abs=1e-6)
    small_x, small_y = decimate(x[:500], y[:500])
    assert len(small_x) == 500  # short series are drawn point for point


@pytest.mark.parametrize("rows", [2 * WIDTH_PX + 1, 1201, 20_000, 1_000_003])
def test_decimation_draws_every_row_to_the_end_of_the_run(rows):
    """The rows that do not fill a whole bucket are drawn too: a spike in the last row, an arc that breaks
    as the run ends, is never dropped."""
    x = np.arange(rows, dtype=float)
    y = np.zeros(rows)
    y[-1], y[0] = 5.0, -5.0
    dx, dy = decimate(x, y)
    assert len(dx) <= 2 * WIDTH_PX
    assert dy.max() == 5.0 and dy.min() == -5.0
    assert dx[-1] >= x[-1] - rows / WIDTH_PX  # within one pixel column of the end


# -- the plots: one frame for every run of the job, drawn at the size the page shows them -----
def sample(kind: str) -> SensorSeries:
    """The first sample run of a class."""
    truth = json.loads((SAMPLE / "truth.json").read_text())
    dataset = next(name for name, answer in truth.items() if answer[WELDING.questions[0].name] == kind)
    return parse_sensor_csv((SAMPLE / "sensor" / f"run-{dataset.removeprefix('dataset-')}.csv").read_bytes(), kind)


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG_MAGIC) and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


class PlotImages(HTMLParser):
    """The width and height the template gives each plot's <img>, by its task.input key."""

    def __init__(self):
        super().__init__()
        self.sizes = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for plot in PLOTS:
            if tag == "img" and f"task.input.{plot.key}.file" in attrs.get("src", ""):
                self.sizes[plot.key] = (int(attrs["width"]), int(attrs["height"]))


def test_plots_are_drawn_at_the_size_the_worker_page_shows_them():
    rendered = PlotRenderer().render(sample("Good Weld"))
    template = PlotImages()
    template.feed(WELDING.template_path.read_text(encoding="utf-8"))
    assert template.sizes == {plot.key: (WIDTH_PX, HEIGHT_PX) for plot in PLOTS}
    assert {key: png_size(png) for key, (_, png, _) in rendered.items()} == template.sizes


def test_every_sample_run_is_drawn_on_the_same_frame():
    """Fixed ranges shared by the job's runs: position relative to where a run starts, time from its first sample."""
    frames = {plot.key: set() for plot in PLOTS}
    for csv in sorted((SAMPLE / "sensor").glob("*.csv")):
        series = parse_sensor_csv(csv.read_bytes(), csv.name)
        for plot in PLOTS:
            shape = frame(plot, series, elapsed_seconds(series))
            frames[plot.key].add((shape.x, (shape.y[0] - shape.start_mm, shape.y[1] - shape.start_mm)))
    time = (TIME_AXIS_S.low, TIME_AXIS_S.high)
    assert frames == {"current": {(time, (CURRENT.axis.low, CURRENT.axis.high))},
                      "electrode": {(time, (TRAVEL_AXIS_MM.low, TRAVEL_AXIS_MM.high))},
                      "voltage": {(time, (VOLTAGE.axis.low, VOLTAGE.axis.high))}}


def test_values_beyond_the_frame_widen_it_instead_of_being_cut_off():
    # 120 s of AC welding with a 1,500 A spike, travelling from 500 mm towards 380 mm, logged from t = 1,000 s.
    rows = 1201
    seconds = 1000 + np.arange(rows) * 0.1
    current = np.full(rows, 150.0)
    current[600] = 1500.0
    voltage = np.where(np.arange(rows) % 2, 22.0, -30.0)
    position = 500 - np.arange(rows) * 0.1
    series = SensorSeries(seconds, position, current, voltage)
    elapsed = elapsed_seconds(series)
    assert elapsed[0] == 0 and elapsed[-1] == pytest.approx(120)
    shapes = {plot.key: frame(plot, series, elapsed) for plot in PLOTS}
    assert all(shape.x == (0.0, pytest.approx(120)) for shape in shapes.values())
    assert shapes["current"].y[0] == CURRENT.axis.low and shapes["current"].y[1] > 1500
    assert shapes["voltage"].y[0] < -30 and shapes["voltage"].y[1] == VOLTAGE.axis.high
    travel = shapes["electrode"]
    assert travel.direction == -1 and travel.y[0] < 380 and travel.y[1] == 500 - TRAVEL_AXIS_MM.low
    assert speed_text(travel.speed_mm_s) == "mean travel 1.0 mm/s"
    rendered = PlotRenderer().render(series)
    assert all(png_size(png) == (WIDTH_PX, HEIGHT_PX) for _, png, _ in rendered.values())


def rows_of(png: bytes, colour: str, tolerance: int) -> np.ndarray:
    """Pixel rows (top = 0) and columns holding ``colour``."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return np.nonzero(np.abs(pixels - rgb).sum(axis=2) <= tolerance)


@pytest.mark.parametrize("kind, where", [("Good Weld", "inside"), ("Lack of Fusion", "below"),
                                         ("High Travel Speed", "inside")])
def test_a_trace_shows_against_its_band_without_reading_numbers(kind, where):
    """In the PNGs themselves: a good weld's current and voltage sit inside the shaded band, a lack of
    fusion's below it; a fast run's traces end in the left part of the shared time axis."""
    rendered = PlotRenderer().render(sample(kind))
    for plot in PLOTS:
        if plot.key == "electrode":
            continue
        png = rendered[plot.key][1]
        band_rows = rows_of(png, BAND_COLOUR, 6)[0]
        trace_rows, trace_columns = rows_of(png, plot.colour, 60)
        assert band_rows.size and trace_rows.size, plot.key
        if where == "inside":
            assert band_rows.min() - 2 <= trace_rows.min() and trace_rows.max() <= band_rows.max() + 2, plot.key
        else:
            assert trace_rows.min() > band_rows.max(), plot.key
        right_end = trace_columns.max() / WIDTH_PX
        assert right_end < 0.4 if kind == "High Travel Speed" else right_end > 0.6


def row_of(value: float, axis) -> float:
    """The pixel row (top = 0) a value on ``axis`` is drawn at, from the renderer's fixed margins."""
    top, bottom = MARGIN_PX["top"], HEIGHT_PX - MARGIN_PX["bottom"]
    return bottom - (value - axis.low) / axis.width * (bottom - top)


def column_of(seconds: float) -> float:
    left, right = MARGIN_PX["left"], WIDTH_PX - MARGIN_PX["right"]
    return left + (seconds - TIME_AXIS_S.low) / TIME_AXIS_S.width * (right - left)


@pytest.mark.parametrize("key, level", [("current", CURRENT), ("voltage", VOLTAGE)])
def test_the_nominal_band_is_drawn_where_the_procedure_puts_it_on_the_fixed_range(key, level):
    """The shaded band's pixels are exactly the procedure's window on the procedure's y-range, across the
    whole time axis, whatever level the run's trace sits at."""
    for kind in ("Good Weld", "Lack of Fusion", "Burn Through"):
        png = PlotRenderer().render(sample(kind))[key][1]
        rows, columns = rows_of(png, BAND_COLOUR, 6)
        assert rows.min() == pytest.approx(row_of(level.band.high, level.axis), abs=1.5), kind
        assert rows.max() == pytest.approx(row_of(level.band.low, level.axis), abs=1.5), kind
        assert columns.min() <= column_of(TIME_AXIS_S.low) + 2 and columns.max() >= column_of(TIME_AXIS_S.high) - 2


def dark_pixels(png: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the dark strokes (the trace and the dashed nominal line); band and grid are light."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return np.nonzero(pixels.sum(axis=2) < 450)


def test_the_position_plot_shows_travel_speed_against_the_nominal_wedge():
    """The wedge of nominal speeds opens from the run's start to where the slowest and fastest nominal speeds
    reach at the axis' end; a good weld's position line stays inside it, a fast run's rises far above it;
    the run's mean speed is what the plot writes in its corner."""
    electrode = next(plot for plot in PLOTS if plot.key == "electrode")
    for kind, inside in (("Good Weld", True), ("High Travel Speed", False)):
        series = sample(kind)
        shape = frame(electrode, series, elapsed_seconds(series))
        axis = Span(shape.y[0], shape.y[1])
        png = PlotRenderer().render(series)["electrode"][1]
        wedge_rows, wedge_columns = rows_of(png, BAND_COLOUR, 6)
        at_right = wedge_rows[wedge_columns == round(column_of(TIME_AXIS_S.high)) - 2]
        reach = lambda speed: series.electrode_mm[0] + speed * TIME_AXIS_S.high  # noqa: E731
        assert at_right.min() <= row_of(min(reach(TRAVEL_MM_S.high), axis.high), axis) + 2, kind
        assert at_right.max() == pytest.approx(row_of(reach(TRAVEL_MM_S.low), axis), abs=2), kind
        # At the column where the run ends: its position line against the wedge there (clear of the frame's
        # top edge, and of the speed written at the bottom).
        end = round(column_of(elapsed_seconds(series)[-1])) - 3
        dark_rows, dark_columns = dark_pixels(png)
        line = dark_rows[(dark_columns == end) & (dark_rows > MARGIN_PX["top"] + 1) & (dark_rows < HEIGHT_PX / 2)]
        wedge = wedge_rows[wedge_columns == end]
        assert line.size and wedge.size, kind
        if inside:
            assert wedge.min() - 2 <= line.min() and line.max() <= wedge.max() + 2, kind
        else:
            assert line.min() < wedge.min() - 20, kind  # steeper: well above the fastest nominal speed
        travelled = (series.electrode_mm[-1] - series.electrode_mm[0]) / elapsed_seconds(series)[-1]
        assert speed_text(shape.speed_mm_s) == f"mean travel {travelled:.1f} mm/s"
        assert (TRAVEL_MM_S.low <= travelled <= TRAVEL_MM_S.high) == inside


MIN_TYPE_PX = 11  # the smallest type a worker reads at a glance, at the size the page shows the plot


def test_tick_labels_are_readable_at_the_size_the_page_shows_the_plot():
    """Measured in the PNG (drawn 1:1 with the page): the time axis' tick digits stand at least as tall as
    DejaVu Sans digits (0.73 em) in 11 px type."""
    for key, (_, png, _) in PlotRenderer().render(sample("Good Weld")).items():
        rows, columns = dark_pixels(png)
        below_axes = sorted(set(rows[(rows > HEIGHT_PX - MARGIN_PX["bottom"]) & (columns > MARGIN_PX["left"] + 5)]))
        lines = [[below_axes[0]]]  # runs of consecutive dark rows: tick marks, tick labels, axis label
        for row in below_axes[1:]:
            lines[-1].append(row) if row == lines[-1][-1] + 1 else lines.append([row])
        marks, tick_labels = lines[:2]
        assert len(marks) <= 5, key  # the tick marks hang just below the axes
        assert len(tick_labels) >= 0.73 * MIN_TYPE_PX, key


# -- bad input: each error names the thing at fault -----------------------------------------
def test_missing_source_key(s3, bucket):
    with pytest.raises(InputError, match="dataObject has neither 'source-ref' nor 'source' \\(keys: text\\)"):
        handler.lambda_handler({"dataObject": {"text": "hi"}})


def test_a_line_naming_its_object_by_both_fields_is_refused(s3, bucket):
    """It plotted the run `source` names while its task record (gold) and the review page took `source-ref`'s."""
    both = {"source": f"s3://{bucket}/welding/datasets/dataset-01.json", "source-ref": f"s3://{bucket}/other.json"}
    with pytest.raises(InputError, match="dataObject names its data object twice, by both 'source-ref' and 'source'"):
        handler.lambda_handler({"dataObject": both})


def test_a_dataset_file_too_large_to_be_one_is_refused_unread(s3, bucket):
    """A 400 MB "dataset file" took 1.2 GB of the 1,024 MB function: killed, with no word of which file it was."""
    key = "welding/datasets/huge.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"pad": "' + b"a" * handler.MAX_DATASET_BYTES + b'"}')
    with pytest.raises(InputError, match=f"dataset file s3://{bucket}/{key} is {handler.MAX_DATASET_BYTES + 11:,} "
                                         f"bytes, over the {handler.MAX_DATASET_BYTES:,}-byte limit"):
        handler.lambda_handler({"dataObject": {"source": f"s3://{bucket}/{key}"}})


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
    image = put(s3, bucket, "i.jpg", CAMERA_JPEG)
    with pytest.raises(InputError, match=f"sensor CSV {missing} does not exist"):
        run(s3, bucket, dataset={"image": {"s3Path": image}, "sensor_data": {"s3Path": missing}})


@pytest.mark.parametrize("csv, message", [
    (b"", "is empty"),
    (b"\n\n", "is empty"),
    (b"0,0.0,150,22,8\n1,0.4,abc,22,8\n", r"line 2, column 3 \(current\): 'abc' is not a number"),
    # Characters that look like a space or a digit but are not read as one are named.
    ("0,0.0,150,22,8\n1,0.4,\u00a0150,22,8\n".encode(),
     r"line 2, column 3 \(current\): '\\xa0150' is not a number \(it holds U\+00A0 NO-BREAK SPACE\)$"),
    ("0,0.0,150,22,8\n1,0.4,150,\u0662\u0662,8\n".encode(),
     r"line 2, column 4 \(voltage\): '..' is not a number \(it holds U\+0662 ARABIC-INDIC DIGIT TWO\)$"),
    (b"0,0.0,150,22,8\n1,0.4,150\n", r"line 2: 3 columns, expected 5"),
    # A blank cell was read as -1 by the one-pass parser and plotted (a current falling to -1 A looks like a defect).
    (b"0,0.0,150,22,8\n1,0.4, ,22,8\n2,0.5,151,22,8\n", r"line 2, column 3 \(current\): '' is not a number$"),
    (b"0,0.0,150,22,8\n1,0.4,150,\t,8\n", r"line 2, column 4 \(voltage\): '' is not a number$"),
    (b"time,electrode,current,voltage\n0,0,150,22\n1,,150,22\n", r"line 3, column 2 \('electrode'\): '' is not a number$"),
    # Data that looks like a header because of one odd cell is named as data, with the cell.
    (b"0,0.00,150.0,\n1,0.4,150,\n", r"line 1: '0,0.00,150.0,' is neither a header nor a row of numbers: "
                                    r"column 4, '', is not a number \(a comma at the end of a line leaves an "
                                    r"empty last column\)$"),
    (b'"0","0.0","150","22"\n', r"line 1: .* column 1, '\"0\"', is not a number \(quoted numbers are not read\)$"),
    # Two equal numbers in it: it was said to be a header naming column '0' twice.
    (b"0,0,NA,22\n1,0.4,150,22\n", r"line 1: '0,0,NA,22' is neither a header nor a row of numbers: column 3, 'NA', "
                                   r"is not a number$"),
    (b"time,current,voltage\n0,150,22\n", "names no column for electrode"),
    (b"time,electrode,current,voltage\n", "has a header but no data rows"),
    (b"0,1\n1,2\n", "line 1: 2 columns, expected 4 or 5 in a file without a header"),
    (b"\xff\xfe\x00bad", "is not UTF-8"),
])
def test_bad_csv_is_named_with_the_problem(s3, bucket, csv, message):
    with pytest.raises(InputError, match=rf"sensor CSV s3://{bucket}/welding/sensor/run-01.csv.*{message}"):
        run(s3, bucket, csv)


def test_columns_no_series_is_read_from_may_hold_anything():
    """Only the plotted series have to be numbers: a requester's CSV with a text ``status`` column, or with a
    blank cell in its unplotted ``wire_feed`` column, is plotted (both were refused for the cell)."""
    csv = (b"time,electrode,current,voltage,wire_feed,status\n"
           b"0,0.00,149.0,21.89,7.98,ok\n"
           b"1,0.41,149.3,22.02,,ok\n"
           b"2,0.80,150.1,22.00,7.91,arc lost\n")
    series = parse_sensor_csv(csv, "s3://b/k.csv")
    assert series.seconds.tolist() == pytest.approx([0.0, 0.1, 0.2])
    assert series.electrode_mm.tolist() == [0.0, 0.41, 0.8]
    assert series.current_a.tolist() == [149.0, 149.3, 150.1]
    assert series.voltage_v.tolist() == [21.89, 22.02, 22.0]
    # The seed layout's fifth column (the logger's wire feed) is not plotted either.
    seed = parse_sensor_csv(b"0,0.0,150,22,8\n1,0.4,151,22,\n2,0.8,152,22,n/a\n", "s3://b/k.csv")
    assert seed.current_a.tolist() == [150, 151, 152]


@pytest.mark.parametrize("csv, message", [
    # A series' cell is named by the header's name for its column, and a fault in another column is passed over.
    (b"time,electrode,current,voltage,status\n0,0,150,22,ok\n1,0.4,,22,\n2,0.8,abc,22,ok\n",
     r"line 3, column 3 \('current'\): '' is not a number$"),
    (b"status,Time_s,Current_A,Voltage_V,Electrode_Position\nok,0,150,22,0\n,0.1,150,22,0.4 mm\n",
     r"line 3, column 5 \('Electrode_Position'\): '0.4 mm' is not a number$"),
    # Rows must still line up: a row of another width is named, whichever column it lacks.
    (b"time,electrode,current,voltage,status\n0,0,150,22,ok\n1,0.4,150,22\n", r"line 3: 4 columns, expected 5$"),
])
def test_a_cell_of_a_plotted_series_is_named_by_its_header(csv, message):
    with pytest.raises(InputError, match=r"sensor CSV s3://b/k.csv " + message):
        parse_sensor_csv(csv, "s3://b/k.csv")


SEED_COLUMNS_ONLY = (r"expected 4 or 5 in a file without a header \(time in units of 100 ms, electrode position in mm, "
                     r"current in A, voltage in V, and a fifth column that is not read\)")
NEEDS_A_HEADER = r"; a file with other columns needs a header line naming them \(time, electrode, current, voltage\)$"


@pytest.mark.parametrize("csv, message", [
    # Without names, a sixth column cannot be told from a misplaced one: a header is needed (this file's text
    # column was named as neither a header nor a row of numbers).
    (b"0,0.00,152.3,22.00,7.96,ok\n1,0.37,153.2,22.05,7.94,ok\n", r"line 1: 6 columns, " + SEED_COLUMNS_ONLY + NEEDS_A_HEADER),
    # Decimal commas split every number in two: these were plotted, current as the digits after the decimal point.
    (b"0,00,152,3,22,00,7,96\n1,00,153,2,22,05,7,94\n",
     r"line 1: 8 columns, " + SEED_COLUMNS_ONLY + r"; no number in it has a decimal point: if its decimals are "
     r"written with a comma \(22,5 for 22.5\), write a point, since a comma always separates columns" + NEEDS_A_HEADER),
    (b"\n0,0,01,143,5,22,16\n1,0,43,149,2,22,04\n", r"line 2: 7 columns, .*no number in it has a decimal point"),
    (b"0,0.0,150.0,22.0,8.0,\n1,0.4,150.0,22.0,8.0,\n",
     r"line 1: 6 columns, .*not read\) \(a comma at the end of a line leaves an empty last column\); a file with"),
])
def test_a_file_without_a_header_has_the_seed_columns_only(csv, message):
    with pytest.raises(InputError, match=r"sensor CSV s3://b/k.csv " + message):
        parse_sensor_csv(csv, "s3://b/k.csv")


def test_a_file_without_a_header_may_end_its_lines_with_a_comma():
    """The empty fifth column a comma at the end of each line leaves is the column that is not read."""
    series = parse_sensor_csv(b"0,0.00,150.0,22.0,\n1,0.4,151,22,\n", "s3://b/k.csv")
    assert series.current_a.tolist() == [150.0, 151.0] and series.seconds.tolist() == pytest.approx([0.0, 0.1])


ONLY_COMMAS = r"not commas: only comma-separated files are read"


@pytest.mark.parametrize("csv, message", [
    # Was "header 'time;electrode;current;voltage' names no column for time, electrode, current, voltage".
    (b"time;electrode;current;voltage\n0;0.02;146.9;21.93\n1;0.42;147.4;22.00\n",
     r"line 1: its columns are separated by semicolons \(';'\), " + ONLY_COMMAS + "; save or export the file as CSV"),
    # Was taken for a header.
    (b"\n0;-0.02;149.6;21.95\n1;0.43;149.5;21.92\n", r"line 2: its columns are separated by semicolons"),
    (b"0;0,00;152,3;22,00\n1;0,40;151,0;22,04\n", r"line 1: .* semicolons \(';'\), " + ONLY_COMMAS + r" \(its commas would be "
                                                   r"decimal commas, which are not read either: write 22.5, not 22,5\)"),
    (b"0\t0.02\t148.2\t21.98\n1\t0.42\t153.3\t22.12\n", r"line 1: its columns are separated by tabs \('\\t'\), "
                                                            + ONLY_COMMAS),
    ("Time\tElectrode\tCurrent\tVoltage\r\n0\t0,0\t150\t22\r\n".encode("utf-8-sig"), r"line 1: its columns are separated by tabs"),
])
def test_a_file_separated_by_other_than_commas_is_named_so(csv, message):
    with pytest.raises(InputError, match=r"sensor CSV s3://b/k.csv " + message):
        parse_sensor_csv(csv, "s3://b/k.csv")


@pytest.mark.parametrize("csv, message", [
    # A long run of digits that ends in something else: each took time quadratic in its length to refuse
    # (20,000 digits: 10-30 s; a few more and past the function's timeout, with no word of which CSV it was).
    (b"1,2,3," + b"9" * 20_000 + b"x\n0,0,150,22\n", r" line 1: .* is neither a header nor a row of numbers"),
    (b"0,0,150,22\n1,0.4," + b"9" * 20_000 + b"x,22\n2,0.8,150,22\n", r" line 2, column 3 \(current\): .* is not a number"),
    # A first line of one cell and a long run of tabs (never a separator between cells: nothing follows them).
    (b"time" + b"\t" * 60_000 + b"\n0,0,150,22\n", r": header 'time' names no column for electrode, current, voltage"),
], ids=["digits-in-header", "digits-in-a-cell", "tabs"])
def test_a_long_run_of_digits_or_tabs_is_refused_at_once(csv, message):
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"sensor CSV s3://b/k.csv" + message):
        parse_sensor_csv(csv, "s3://b/k.csv")
    assert time.perf_counter() - started < 2  # linear in the line's length: milliseconds


def test_tabs_beside_the_commas_are_spaces_around_a_number():
    series = parse_sensor_csv(b"time,\telectrode,\tcurrent,\tvoltage\n0,\t0.0,\t150,\t22\n1\t,0.4\t,151\t,22\n",
                              "s3://b/k.csv")
    assert series.current_a.tolist() == [150, 151]


def test_rendering_imports_nothing_the_bundle_prunes(monkeypatch, tmp_path):
    """Run the renderer in a fresh interpreter with every pruned Python package blocked."""
    import subprocess
    import sys

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


# -- sensor values: what a welding sensor can produce, time that runs forwards ----------------
CSV_URI = "sensor CSV s3://{bucket}/welding/sensor/run-01.csv"


@pytest.mark.parametrize("csv, message", [
    # The value that used to fail inside matplotlib ("arange: cannot compute length").
    (b"0,0.0,150,22,8\n1,0.4,1e308,22,8\n2,0.8,150,22,8\n",
     r"line 2, column 3 \(current\): '1e308' \(1e\+308 A\) is outside what a welding sensor records "
     r"\(current -2000 to 2000 A\)"),
    (b"0,0.0,150,22,8\n1,0.4,150,-1e308,8\n", r"line 2, column 4 \(voltage\): '-1e308'"),
    (b"0,0.0,150,22,8\n1,0.4,150,250,8\n", r"line 2, column 4 \(voltage\): '250' \(250 V\) is outside .*voltage -200 to 200 V"),
    (b"0,0.0,150,22,8\n1,12000,150,22,8\n", r"line 2, column 2 \(electrode\): '12000' \(12000 mm\)"),
    (b"0,0.0,-2000.5,22,8\n1,0.4,150,22,8\n", r"line 1, column 3 \(current\): '-2000.5'"),
    (b"0,0.0,150,22,8\n1,0.4,nan,22,8\n", r"line 2, column 3 \(current\): 'nan' is not a finite number"),
    (b"0,0.0,150,22,8\n1,0.4,150,-Infinity,8\n", r"line 2, column 4 \(voltage\): '-Infinity' is not a finite number"),
    # Time: units of 100 ms in the seed layout, so 864001 is a day and 0.1 s.
    (b"0,0.0,150,22,8\n864001,0.4,150,22,8\n", r"line 2, column 1 \(time\): '864001' \(86400.1 s\) is outside .*time 0 to 86400 s"),
    (b"-1,0.0,150,22,8\n0,0.4,150,22,8\n", r"line 1, column 1 \(time\): '-1' \(-0.1 s\) is outside"),
    (b"0,0.0,150,22,8\n2,0.4,150,22,8\n1,0.8,150,22,8\n",
     r"line 3, column 1 \(time\): time goes backwards \('1' after '2' on line 2\)"),
    (b"5,0.0,150,22,8\n5,0.4,150,22,8\n5,0.8,150,22,8\n", r"time never advances \(column 1 \(time\) is '5' on every one of its 3 rows\)"),
    (b"0,0.0,150,22,8\n", r"has one row of data \(line 1\): a run to plot needs two or more"),  # blank plots before
    # Headers: a name given twice, or two columns for one series, is ambiguous.
    (b"time,electrode,current,voltage,Current\n0,0,150,22,151\n",
     r"line 1: the header names column 'Current' twice \(columns 3 and 5\)"),
    (b"time,electrode,current,voltage,amps\n0,0,150,22,151\n",
     r"line 1: the header has two current columns, 'current' \(column 3\) and 'amps' \(column 5\)"),
    (b"time,time_s,electrode,current,voltage\n0,0,0,150,22\n",
     r"line 1: the header has two time columns, 'time' \(column 1\) and 'time_s' \(column 2\)"),
    # Headered: errors name the column by its header; time in seconds is bounded in seconds.
    (b"Time_s,Voltage_V,Current_A,Electrode_Position\n0,22,150,0\n86401,22,150,0\n",
     r"line 3, column 1 \('Time_s'\): '86401' \(86401 s\) is outside"),
    (b"Timestamp,Voltage_V,Current_A,Electrode_Position\n0,22,150,0\n1,22,1e308,0\n",
     r"line 3, column 3 \('Current_A'\): '1e308'"),
    # Blank lines are skipped, but line numbers still count them, as an editor does.
    (b"\n0,0.0,150,22,8\n\n1,0.4,abc,22,8\n", r"line 4, column 3 \(current\): 'abc' is not a number"),
])
def test_implausible_sensor_data_is_named_by_line_and_column(s3, bucket, csv, message):
    with pytest.raises(InputError, match=CSV_URI.format(bucket=bucket) + ".*" + message):
        run(s3, bucket, csv)
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="plots/").get("KeyCount")  # nothing was drawn


def test_repeated_timestamps_are_drawn_not_dropped():
    csv = b"0,0.0,150,22,8\n1,0.4,151,22,8\n1,0.5,190,23,8\n2,0.8,150,22,8\n"
    series = parse_sensor_csv(csv, "s3://b/k.csv")
    assert series.seconds.tolist() == pytest.approx([0.0, 0.1, 0.1, 0.2])
    assert series.current_a.tolist() == [150, 151, 190, 150]  # both samples at t=0.1 kept
    rendered = PlotRenderer().render(series)
    assert all(png.startswith(PNG_MAGIC) and points == 4 for _, png, points in rendered.values())


def test_values_at_the_bounds_are_accepted():
    low = {name: bound.low for name, bound in SENSOR_BOUNDS.items()}
    high = {name: bound.high for name, bound in SENSOR_BOUNDS.items()}
    csv = (f"time_s,electrode,current,voltage\n"
           f"{low['time']},{low['electrode']},{low['current']},{low['voltage']}\n"
           f"{high['time']},{high['electrode']},{high['current']},{high['voltage']}\n").encode()
    series = parse_sensor_csv(csv, "s3://b/k.csv")
    assert series.current_a.tolist() == [low["current"], high["current"]]
    # Seed layout: time in units of 100 ms, so a day is 864000 units.
    seed = parse_sensor_csv(b"0,0,150,22\n864000,0,150,22\n", "s3://b/k.csv")
    assert seed.seconds.tolist() == [0.0, high["time"]]


@pytest.mark.parametrize("name, seconds, values", [
    ("widest span", [0.0, 86_400.0], "bounds"),
    ("one row", [0.0], [1.0]),
    ("constant", [0.0, 0.1, 0.2], [5.0, 5.0, 5.0]),
    ("subnormal step", [0.0, 5e-324], [0.0, 5e-324]),
    ("step below float resolution", [1000.0, 1000.0 + 1e-12], [2000.0, 2000.0 - 1e-13]),
    ("a million rows", np.linspace(0, 86_400, 1_000_000), "noise"),
])
def test_anything_the_parser_accepts_renders(name, seconds, values):
    """Within SENSOR_BOUNDS, degenerate shapes included, matplotlib never fails."""
    seconds = np.asarray(seconds, dtype=float)
    columns = {}
    for series_name, bound in SENSOR_BOUNDS.items():
        if values == "bounds":
            columns[series_name] = np.array([bound.low, bound.high])
        elif values == "noise":
            columns[series_name] = np.random.default_rng(0).uniform(bound.low, bound.high, len(seconds))
        else:
            columns[series_name] = np.asarray(values, dtype=float)
    series = SensorSeries(seconds, columns["electrode"], columns["current"], columns["voltage"])
    rendered = PlotRenderer().render(series)
    assert all(png.startswith(PNG_MAGIC) for _, png, _ in rendered.values())


def test_an_unforeseen_rendering_failure_names_the_csv(s3, bucket, monkeypatch):
    class Broken:
        def render(self, series):
            raise ValueError("arange: cannot compute length")

    monkeypatch.setattr(handler, "renderer", lambda: Broken())
    with pytest.raises(InputError, match=rf"{CSV_URI.format(bucket=bucket)} could not be plotted "
                                         r"\(ValueError: arange: cannot compute length\)"):
        run(s3, bucket)


# -- the camera image must be an image ------------------------------------------------------
@pytest.mark.parametrize("body, message", [
    (b"", r"is empty \(0 bytes\)"),
    (b"camera offline\n", r"is not an image a browser shows \(JPEG, PNG, GIF, WebP, AVIF\): it starts with bytes 63 61 6d"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "is not an image a browser shows"),
    (b"II*\x00" + b"\x00" * 60, "is a TIFF file, which browsers do not show"),
    (b"\xff\xd8", "is not an image a browser shows"),  # a JPEG cut short before its first marker
    (b"\xff\xd8\xff\xe0", "is a JPEG file that does not end as one: 4 bytes end without its end-of-image marker"),
])
def test_camera_image_that_is_not_an_image_is_named(s3, bucket, body, message):
    image = f"s3://{bucket}/welding/images/run-01.jpg"
    with pytest.raises(InputError, match=rf"camera image {image} {message}.*\(named by dataset file "
                                         rf"s3://{bucket}/welding/datasets/dataset-01.json\)"):
        run(s3, bucket, image_body=body)


def test_camera_image_may_be_any_browser_format(s3, bucket):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24 + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    result, image = run(s3, bucket, image_body=png)
    assert result["taskInput"]["image"]["file"] == image


# -- the dataset file ---------------------------------------------------------------------
@pytest.mark.parametrize("body, message", [
    (b"[" * 30_000 + b"]" * 30_000, "is nested too deeply to parse"),
    ('{"image": {"s3Path": "s3://b/Schweißnaht.jpg"}}'.encode("latin-1"), "is not UTF-8 text"),
    (b'{"image": NaN}', "is not valid JSON: NaN is not a JSON number"),
    (b'{"image": {"s3Path": "s3://b/i.jpg"}, "gain": Infinity}', "is not valid JSON: Infinity is not a JSON number"),
    (b'{"gain": -Infinity}', "is not valid JSON: -Infinity is not a JSON number"),
    (b'{"gain": 1e999}', "is not valid JSON: number 1e999 is too large for a float"),
    (b'["image", "sensor_data"]', "is not a JSON object"),
])
def test_unusable_dataset_file_is_named(s3, bucket, body, message):
    uri = put(s3, bucket, "welding/datasets/bad.json", body)
    with pytest.raises(InputError, match=rf"dataset file {uri} {message}"):
        handler.lambda_handler({"dataObject": {"source": uri}})


def test_dataset_file_with_a_byte_order_mark_is_read(s3, bucket):
    image = put(s3, bucket, "i.jpg", CAMERA_JPEG)
    csv = put(s3, bucket, "s.csv", SEED_CSV)
    uri = put(s3, bucket, "d.json", b"\xef\xbb\xbf" + json.dumps({"image": {"s3Path": image},
                                                                  "sensor_data": {"s3Path": csv}}).encode())
    assert handler.lambda_handler({"dataObject": {"source": uri}})["taskInput"]["image"]["file"] == image


# -- S3 keys are read literally, as Ground Truth reads them ---------------------------------
@pytest.mark.parametrize("name", ["run%2001", "run 01", "run+01", "run#01?v=1", "Schweißnaht 01"])
def test_keys_are_used_exactly_as_written(s3, bucket, name):
    image = put(s3, bucket, f"welding/images/{name}.jpg", CAMERA_JPEG)
    csv = put(s3, bucket, f"welding/sensor/{name}.csv", SEED_CSV)
    dataset = put(s3, bucket, f"welding/datasets/{name}.json",
                  json.dumps({"image": {"s3Path": image}, "sensor_data": {"s3Path": csv}}))
    task = handler.lambda_handler({"dataObject": {"source": dataset}})["taskInput"]
    assert task["image"]["file"] == image
    assert task["current"]["file"] == f"s3://{bucket}/plots/welding/sensor/{name}.csv/current.png"
    s3.head_object(Bucket=bucket, Key=f"plots/welding/sensor/{name}.csv/current.png")


def test_a_missing_key_is_named_as_the_manifest_wrote_it(s3, bucket):
    put(s3, bucket, "welding/datasets/run 01.json", b"{}")  # the decoded name exists; the written one does not
    uri = f"s3://{bucket}/welding/datasets/run%2001.json"
    with pytest.raises(InputError) as raised:
        handler.lambda_handler({"dataObject": {"source": uri}})
    assert str(raised.value) == f"dataset file {uri} does not exist"


def test_csvs_whose_names_differ_only_after_the_stem_never_share_plots(s3, bucket):
    """"coll.csv", "coll.CSV" and "coll" are three runs: each object's plots are drawn from its own CSV."""
    plotted = {}
    for n, name in enumerate(("coll.csv", "coll.CSV", "coll")):
        csv = put(s3, bucket, f"welding/sensor/{name}", SEED_CSV.replace(b"150", str(120 + 20 * n).encode(), 1))
        image = put(s3, bucket, f"welding/images/{n}.jpg", CAMERA_JPEG)
        dataset = put(s3, bucket, f"welding/datasets/{n}.json",
                      json.dumps({"image": {"s3Path": image}, "sensor_data": {"s3Path": csv}}))
        plotted[name] = handler.lambda_handler({"dataObject": {"source": dataset}})["taskInput"]["current"]["file"]
    assert len(set(plotted.values())) == 3
    for name, uri in plotted.items():
        assert uri == f"s3://{bucket}/plots/welding/sensor/{name}/current.png"


def refusal_of_csv(s3, bucket, name: str, body: bytes) -> tuple[str, str]:
    """The sensor CSV's URI and the InputError pre-labeling raises for a dataset naming it (and a good image)."""
    csv = put(s3, bucket, f"welding/sensor/{name}.csv", body)
    image = put(s3, bucket, f"welding/images/{name}.jpg", CAMERA_JPEG)
    dataset = put(s3, bucket, f"welding/datasets/{name}.json",
                  json.dumps({"image": {"s3Path": image}, "sensor_data": {"s3Path": csv}}))
    with pytest.raises(InputError) as refused:
        handler.lambda_handler({"dataObject": {"source": dataset}})
    return csv, str(refused.value)


def test_a_sensor_csv_of_more_values_than_the_function_reads_is_refused_by_name_and_count(s3, bucket, monkeypatch):
    """Memory goes with the values, not the bytes: 50 MB of short rows took 1,022 MB of a 1,024 MB function."""
    monkeypatch.setattr(handler, "MAX_CSV_VALUES", 50)
    csv, message = refusal_of_csv(s3, bucket, "many", "".join(f"{i},0,1,2\n" for i in range(13)).encode())
    assert message == (f"sensor CSV {csv} holds about 53 values (rows x columns), over the 50 that pre-labeling "
                       "reads (its memory): split or downsample the run")


def test_a_sensor_csv_larger_than_the_function_reads_is_refused_by_name_and_size(s3, bucket, monkeypatch):
    monkeypatch.setattr(handler, "MAX_CSV_BYTES", len(SEED_CSV) - 1)  # (the real limit is 50 MB: same rule)
    csv, message = refusal_of_csv(s3, bucket, "huge", SEED_CSV)
    assert message == (f"sensor CSV {csv} is {len(SEED_CSV):,} bytes, over the {len(SEED_CSV) - 1:,}-byte limit "
                       "that pre-labeling reads (its memory): split or downsample the run")


@pytest.mark.parametrize("header, first_seconds", [
    ("time,electrode,current,voltage", [0.0, 0.1, 0.2]),  # units of 100 ms, as the seed logger's
    ("Time (s),electrode,current,voltage", [0.0, 1.0, 2.0]),
    ("time_ms,electrode,current,voltage", [0.0, 0.001, 0.002]),
    ("Timestamp (ms),electrode,current,voltage", [0.0, 0.001, 0.002]),
])
def test_a_time_header_naming_its_unit_is_read_in_that_unit(header, first_seconds):
    csv = f"{header}\n0,0.0,150,22\n1,0.4,151,22\n2,0.8,152,22\n".encode()
    assert parse_sensor_csv(csv, "s3://b/k.csv").seconds[:3].tolist() == pytest.approx(first_seconds)


def test_an_error_quoting_a_megabyte_line_keeps_what_names_the_csv_and_stays_short():
    """A 1 MB first line was quoted whole, twice: a 2 MB message, past what Lambda returns as an error and logs as
    one event, so the part naming the CSV could be lost. Values are quoted by their start and length."""
    line = "1,2,3," + "9" * 1_000_000 + "x\n"
    with pytest.raises(InputError) as refused:
        parse_sensor_csv(line.encode(), "s3://b/runs/long-line.csv")
    message = str(refused.value)
    assert message.startswith("sensor CSV s3://b/runs/long-line.csv line 1: '1,2,3,999")
    assert "... (1,000,007 characters) is neither a header nor a row of numbers: column 4, '999" in message
    assert message.endswith("... (1,000,001 characters), is not a number") and len(message) < 400


def test_an_input_error_too_long_to_return_keeps_its_start_and_end():
    from gt_common.s3uri import MAX_MESSAGE_CHARACTERS

    message = str(InputError("data object s3://b/x.json: " + "y" * 50_000 + " is not a number"))
    assert message.startswith("data object s3://b/x.json: yyy") and message.endswith("yyy is not a number")
    assert "[... 40,043 characters left out ...]" in message and len(message) < MAX_MESSAGE_CHARACTERS + 50
