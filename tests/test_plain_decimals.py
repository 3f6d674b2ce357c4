"""The whole-array reader of plain decimal CSVs: bit-exact with float(), and it declines anything else."""
from __future__ import annotations

import random
import re

import numpy as np
import pytest

from gt_common.s3uri import InputError
from welding_pre_labeling import sensor_csv
from welding_pre_labeling.plain_decimals import MAX_CHARS, plain_decimal_table

PLAIN = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)")


def bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).view(np.int64)


def random_cell(rng: random.Random) -> str:
    whole = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 9)))
    fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 8)))
    cell = whole + ("." + fraction if rng.random() < 0.7 else "")
    cell = ("-" + cell if rng.random() < 0.3 else cell) or "0"
    if rng.random() < 0.03:  # what a plain reader must decline
        cell = rng.choice(["1e5", "+1", " 1", "1 ", "1-", "--1", "1..2", "-", "-.", ".", "nan", "inf", "0x1",
                           "1_000", "\u0661", "1\t", "1.2.3", "\ufeff1"])
    return cell


def test_random_tables_read_bit_exact_with_float_or_are_declined():
    rng = random.Random(12)
    read = declined = 0
    for _ in range(3000):
        width, rows = rng.randint(1, 6), rng.randint(1, 12)
        lines = [",".join(random_cell(rng) for _ in range(width)) for _ in range(rows)]
        body = ("\n".join(lines) + rng.choice(["", "\n"])).encode()
        cells = [cell for line in lines for cell in line.split(",")]
        table = plain_decimal_table(body)
        if all(PLAIN.fullmatch(cell) and len(cell) <= MAX_CHARS for cell in cells):
            assert table is not None and table.shape == (rows, width), lines
            assert np.array_equal(bits(table.ravel()), bits([float(cell) for cell in cells])), lines
            read += 1
        else:
            assert table is None, lines
            declined += 1
    assert read > 500 and declined > 500  # both sides exercised


@pytest.mark.parametrize("cell, value", [("-0.00", -0.0), ("5.", 5.0), ("-.5", -0.5), ("007", 7.0),
                                         ("0.1", 0.1), ("123456789012.34", 123456789012.34),
                                         ("99999999999999.", 99999999999999.0), (".00000000000001", 1e-14)])
def test_edge_cells(cell, value):
    assert bits(plain_decimal_table(f"{cell},1\n".encode())[0, 0]) == bits(value)


@pytest.mark.parametrize("body", [b"", b"\n1,2\n", b"1,2\n\n3,4\n", b"1,2\n3\n", b"1,2\n3,4,5\n", b"1,,2\n",
                                  b"1,2,\n", b"1234567890123456\n", b"1\r\n", b"1,2 \n"])
def test_declined_bodies(body):
    assert plain_decimal_table(body) is None


def test_a_file_the_plain_reader_declines_is_still_read_or_named(monkeypatch):
    """The same CSV through the plain reader and the line-by-line one gives the same series; a fault the plain
    reader skips is named by line and column exactly as before."""
    csv = b"time_s,electrode,current,voltage\r\n0.0,-0.01,150.5,22.0\r\n0.1,0.39,151.25,21.5\r\n"
    fast = sensor_csv.parse_sensor_csv(csv, "s3://b/k.csv")
    monkeypatch.setattr(sensor_csv, "plain_decimal_table", lambda body: None)
    slow = sensor_csv.parse_sensor_csv(csv, "s3://b/k.csv")
    for name in ("seconds", "electrode_mm", "current_a", "voltage_v"):
        assert np.array_equal(bits(getattr(fast, name)), bits(getattr(slow, name))), name
    monkeypatch.undo()
    with pytest.raises(InputError, match=r"line 3, column 3 \('current'\): '2500' \(2500 A\) is outside"):
        sensor_csv.parse_sensor_csv(b"time_s,electrode,current,voltage\n0,0,150,22\n0.1,0.4,2500,22\n", "s3://b/k.csv")
    with pytest.raises(InputError, match=r"line 3, column 1 \(time\): time goes backwards"):
        sensor_csv.parse_sensor_csv(b"5,0,150,22\n6,0.4,150,22\n4,0.8,150,22\n", "s3://b/k.csv")
