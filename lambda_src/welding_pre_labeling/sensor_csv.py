"""Parsing a welding run's sensor CSV into named series.

Two layouts are accepted:
- the seed's header-less layout: column 0 time in units of 100 ms, 1 electrode position (mm),
  2 current (A), 3 voltage (V); further columns are ignored;
- a headered layout whose first line names the columns (case-insensitive, spaces/underscores
  ignored): time from ``time``/``timestamp``/``t`` (units of 100 ms, or seconds when the name
  says ``_s``/``seconds``), electrode from ``electrode``/``electrodeposition``/``position``,
  ``current``/``current_a``, ``voltage``/``voltage_v``; other columns are ignored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from gt_common.s3uri import InputError

_ALIASES = {
    "time": {"time", "timestamp", "t", "time100ms", "timems100"},
    "time_seconds": {"times", "timeseconds", "timesec", "seconds"},
    "electrode": {"electrode", "electrodeposition", "position", "electrodepositionmm", "positionmm"},
    "current": {"current", "currenta", "amps", "amperage"},
    "voltage": {"voltage", "voltagev", "volts"},
}
_SEED_COLUMNS = {"time": 0, "electrode": 1, "current": 2, "voltage": 3}


@dataclass(frozen=True)
class SensorSeries:
    seconds: np.ndarray
    electrode_mm: np.ndarray
    current_a: np.ndarray
    voltage_v: np.ndarray

    def __len__(self) -> int:
        return len(self.seconds)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.strip().strip('"').lower())


def _header_columns(header: str, uri: str) -> tuple[dict[str, int], float]:
    names = [_normalise(n) for n in header.split(",")]
    columns, scale = {}, 0.1
    for index, name in enumerate(names):
        for role, aliases in _ALIASES.items():
            if name in aliases and role not in columns:
                if role == "time_seconds":
                    if "time" not in columns:
                        columns["time"], scale = index, 1.0
                else:
                    columns[role] = index
    missing = [role for role in ("time", "electrode", "current", "voltage") if role not in columns]
    if missing:
        raise InputError(f"sensor CSV {uri}: header {header.strip()!r} names no column for {', '.join(missing)}")
    return columns, scale


def parse_sensor_csv(data: bytes, uri: str) -> SensorSeries:
    """Parse ``data`` (the CSV's bytes); errors name ``uri`` and, where one is at fault, the line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"sensor CSV {uri} is not UTF-8 text: {error}") from error
    lines = text.strip().splitlines()
    if not lines:
        raise InputError(f"sensor CSV {uri} is empty")
    first = lines[0]
    if not _is_numeric_row(first):
        columns, scale = _header_columns(first, uri)
        body_lines, first_line_number = lines[1:], 2
    else:
        columns, scale = dict(_SEED_COLUMNS), 0.1
        body_lines, first_line_number = lines, 1
    if not body_lines:
        raise InputError(f"sensor CSV {uri} has a header but no data rows")
    width = body_lines[0].count(",") + 1
    if width <= max(columns.values()):
        raise InputError(f"sensor CSV {uri} line {first_line_number}: {width} columns, expected at least {max(columns.values()) + 1}")
    # One C-level parse of the whole body (fast for a million rows); if the count is off, find the line.
    values = None
    if _all_numeric_shape(body_lines, width):
        try:
            values = np.fromstring(",".join(body_lines), sep=",")
        except ValueError:  # a cell that is not a number: found and named below
            values = None
    if values is None or values.size != width * len(body_lines):
        _raise_first_bad_line(body_lines, width, first_line_number, uri)
    table = values.reshape(len(body_lines), width)
    if not np.isfinite(table[:, list(columns.values())]).all():
        bad = int(np.argwhere(~np.isfinite(table[:, list(columns.values())]))[0][0])
        raise InputError(f"sensor CSV {uri} line {bad + first_line_number}: value is not a finite number")
    return SensorSeries(
        seconds=table[:, columns["time"]] * scale,
        electrode_mm=table[:, columns["electrode"]],
        current_a=table[:, columns["current"]],
        voltage_v=table[:, columns["voltage"]],
    )


def _is_numeric_row(line: str) -> bool:
    try:
        [float(cell) for cell in line.split(",")]
    except ValueError:
        return False
    return True


def _all_numeric_shape(lines: list[str], width: int) -> bool:
    # Cheap guard: the comma count must match everywhere, else the reshape would misalign rows.
    return sum(line.count(",") for line in lines) == (width - 1) * len(lines)


def _raise_first_bad_line(lines: list[str], width: int, first_line_number: int, uri: str) -> None:
    for offset, line in enumerate(lines):
        cells = line.split(",")
        if len(cells) != width:
            raise InputError(f"sensor CSV {uri} line {offset + first_line_number}: {len(cells)} columns, expected {width}")
        for cell in cells:
            try:
                float(cell)
            except ValueError:
                raise InputError(
                    f"sensor CSV {uri} line {offset + first_line_number}: {cell.strip()!r} is not a number") from None
    raise InputError(f"sensor CSV {uri} could not be parsed")
