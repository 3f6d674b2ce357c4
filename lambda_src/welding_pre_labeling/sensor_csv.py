"""Parsing a welding run's sensor CSV into named series, refusing anything that is not a recording.

Two layouts are accepted:
- the seed's header-less layout, taken when the first line's first four cells are numbers: exactly
  4 columns, 1 time in units of 100 ms (``SEED_TIME_SCALE``: 10 is one second; a time in seconds
  needs a header naming it ``time_s``), 2 electrode position (mm), 3 current (A), 4 voltage (V),
  or 5, the fifth (the seed logger's wire feed) not read. Any other number of columns is refused:
  the columns cannot be told apart without names, so a file with more needs a header naming them,
  and decimal commas (``22,5``) would split each number in two and be read as other numbers;
- a headered layout whose first line names the columns (case-insensitive, spaces/underscores
  ignored): time from ``time``/``timestamp``/``t`` (units of 100 ms too, or seconds when the name
  says ``_s``/``seconds``, as ``Time (s)`` does, or milliseconds when it says ``_ms``/``milliseconds``), electrode from ``electrode``/``electrodeposition``/``position``,
  ``current``/``current_a``, ``voltage``/``voltage_v``; other columns, any number of them, are not read.

Rules. Each broken one is an ``InputError`` naming the CSV's S3 URI and, where one is at fault,
the line (1-based, as an editor counts them) and the column (1-based):
- UTF-8 text; blank lines are skipped (line numbers still count them).
- Columns are separated by commas, and decimals written with a point. A first line whose columns are separated
  by semicolons or tabs instead (what spreadsheets export where the comma is the decimal mark) is refused naming
  the separator, not read: its numbers may then hold decimal commas too, and whether they do would be a guess.
- Header: a name given twice is an error (after the normalisation above), and so are two
  columns for one series (``current`` and ``amps``, ``time`` and ``time_s``): which one would be
  plotted would be a guess.
- Every row has the first row's number of columns (so that they line up). Each cell of a column a series is
  read from is a number, and an error names that column by its header name (or its series); the other
  columns are never read, so they may hold anything (text, blanks).
- Every value of a plotted series is finite and inside ``SENSOR_BOUNDS``, the range a welding
  sensor can produce. A value outside it is a corrupt or mis-scaled file, not a measurement,
  and it is refused before it can reach matplotlib (whose tick layout fails on spans near the
  float limit, e.g. ``1e308``).
- Time is never negative and never goes backwards. A repeated timestamp is accepted: a logger
  whose clock ticks more coarsely than it samples writes two rows with one time; both are real
  measurements, so both are drawn (as a vertical step) rather than one being hidden. Time that
  never advances at all (every row at one instant, or a single row) is an error: there is no run to plot.

A file of plain decimals that breaks no rule (what loggers write) is read in whole-array passes
(``plain_decimals``); any other file, and any file breaking a rule, goes through the line-by-line
reader, which finds and names the fault.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from gt_common.s3uri import InputError
from welding_pre_labeling.plain_decimals import plain_decimal_table

_ALIASES = {
    "time": {"time", "timestamp", "t", "time100ms", "timems100"},
    "time_seconds": {"times", "timeseconds", "timesec", "seconds"},
    "time_milliseconds": {"timems", "timemilliseconds", "timestampms", "milliseconds"},
    "electrode": {"electrode", "electrodeposition", "position", "electrodepositionmm", "positionmm"},
    "current": {"current", "currenta", "amps", "amperage"},
    "voltage": {"voltage", "voltagev", "volts"},
}
SERIES = ("time", "electrode", "current", "voltage")
_SEED_COLUMNS = {"time": 0, "electrode": 1, "current": 2, "voltage": 3}
SEED_TIME_SCALE = 0.1  # seconds per time unit in the seed layout (and headered ``time`` columns)
#: Seconds per unit of a time column whose header names its unit.
_TIME_UNITS = {"time_seconds": 1.0, "time_milliseconds": 0.001}
SEED_WIDTHS = (4, 5)  # columns of a header-less file: the four series, and the seed logger's wire feed (not read)
# A decimal number as loggers write it (no digit separators, no hex); nan/inf parse but are refused as not finite.
# ASCII only, as the C parser reads numbers: a non-breaking space or an Arabic-Indic digit is not part of one.
# Each run of digits can be matched one way only (``\d+(?:\.\d*)?``, not ``\d+\.?\d*``): a cell of digits ending in
# something else is then refused in time linear in its length, not quadratic (20,000 digits took 10-30 s).
_NUMBER = re.compile(r"\s*[+-]?(\d+(?:\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*|\s*[+-]?(nan|inf|infinity)\s*",
                     re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    unit: str


#: What a welding sensor can produce, per series (time in seconds, after the layout's scale).
#: Arc welding power sources deliver at most ~1,500 A and their no-load voltage is limited to
#: ~113 V peak (IEC 60974-1); both polarities occur (AC, DC electrode-negative). A carriage
#: travels well under 10 m, and one run lasts minutes, never a day.
SENSOR_BOUNDS = {
    "time": Bound(0.0, 86_400.0, "s"),
    "electrode": Bound(-10_000.0, 10_000.0, "mm"),
    "current": Bound(-2_000.0, 2_000.0, "A"),
    "voltage": Bound(-200.0, 200.0, "V"),
}


@dataclass(frozen=True)
class SensorSeries:
    seconds: np.ndarray
    electrode_mm: np.ndarray
    current_a: np.ndarray
    voltage_v: np.ndarray

    def __len__(self) -> int:
        return len(self.seconds)


@dataclass(frozen=True)
class _Layout:
    columns: dict[str, int]  # series -> 0-based column index
    time_scale: float  # seconds per unit of the time column
    names: list[str] | None  # header names as written, None for the seed layout

    def column(self, index: int) -> str:
        """How an error names a column: its number, and its header name or series."""
        if self.names is not None and index < len(self.names):
            return f"column {index + 1} ({_quoted(self.names[index])})"
        role = next((r for r, i in self.columns.items() if i == index), None)
        return f"column {index + 1} ({role})" if role else f"column {index + 1}"


ASCII_SPACE = " \t\v\f"  # what a blank cell may hold (the C parser reads such a cell as -1 without a word)
_WITHOUT_SPACES = str.maketrans("", "", ASCII_SPACE)

#: How much of a value an error quotes: enough to find it in the file (a 1 MB header quoted whole made a 2 MB
#: message, past what Lambda returns as an error).
QUOTED_CHARACTERS = 100


def _quoted(text: str) -> str:
    """``text`` as an error quotes it: ``repr``, its first ``QUOTED_CHARACTERS`` and its length when longer."""
    if len(text) <= QUOTED_CHARACTERS:
        return repr(text)
    return f"{text[:QUOTED_CHARACTERS]!r}... ({len(text):,} characters)"


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.strip().strip('"').lower())


def _header_layout(header: str, line_number: int, uri: str) -> _Layout:
    names = [cell.strip().strip('"') for cell in header.split(",")]
    normalised = [_normalise(name) for name in names]
    named = any(name in aliases for name in normalised for aliases in _ALIASES.values())
    if not named and any(_NUMBER.fullmatch(name) for name in names):
        # Numbers, yet not a row of them: data whose odd cell made it look like a header. Name that cell (before
        # anything else: "0,0,NA,22" was said to name column '0' twice).
        cells = header.split(",")
        odd = next(index for index, cell in enumerate(cells) if not _NUMBER.fullmatch(cell))
        cell = cells[odd].strip(ASCII_SPACE)
        why = (" (a comma at the end of a line leaves an empty last column)" if not cell and odd == len(cells) - 1
               else " (quoted numbers are not read)" if cell.startswith('"') else "")
        raise InputError(f"sensor CSV {uri} line {line_number}: {_quoted(header.strip())} is neither a header nor a "
                         f"row of numbers: column {odd + 1}, {_quoted(cell)}, is not a number{why}")
    first_seen: dict[str, int] = {}
    for index, name in enumerate(normalised):
        if name and name in first_seen:
            raise InputError(f"sensor CSV {uri} line {line_number}: the header names column "
                             f"{_quoted(names[index])} twice (columns {first_seen[name] + 1} and {index + 1})")
        first_seen.setdefault(name, index)
    columns, scale = {}, SEED_TIME_SCALE
    for index, name in enumerate(normalised):
        for role, aliases in _ALIASES.items():
            if name not in aliases:
                continue
            series = "time" if role in _TIME_UNITS else role
            if series in columns:
                other = columns[series]
                raise InputError(f"sensor CSV {uri} line {line_number}: the header has two {series} columns, "
                                 f"{_quoted(names[other])} (column {other + 1}) and {_quoted(names[index])} "
                                 f"(column {index + 1})")
            columns[series] = index
            scale = _TIME_UNITS.get(role, scale)
    missing = [series for series in SERIES if series not in columns]
    if missing:
        raise InputError(f"sensor CSV {uri}: header {_quoted(header.strip())} names no column for {', '.join(missing)}")
    return _Layout(columns, scale, names)


def parse_sensor_csv(data: bytes, uri: str) -> SensorSeries:
    """Parse ``data`` (the CSV's bytes); errors name ``uri`` and, where one is at fault, the line and column."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"sensor CSV {uri} is not UTF-8 text: {error}") from error
    plain = _parse_plain(data, uri)
    if plain is not None:
        return plain
    numbered = [(number, line) for number, line in
                enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1) if line.strip()]
    if not numbered:
        raise InputError(f"sensor CSV {uri} is empty")
    first_number, first = numbered[0]
    layout = _first_line_layout(first, first_number, uri)
    rows = numbered if layout.names is None else numbered[1:]
    if not rows:
        raise InputError(f"sensor CSV {uri} has a header but no data rows")
    line_numbers = [number for number, _ in rows]
    lines = [line for _, line in rows]
    width = lines[0].count(",") + 1
    needed = max(layout.columns.values()) + 1
    if width < needed:
        raise InputError(f"sensor CSV {uri} line {line_numbers[0]}: {width} columns, expected at least {needed}")
    table = _parse_table(lines, line_numbers, width, layout, uri)
    _check_values(table, lines, line_numbers, layout, uri)
    seconds = table[:, layout.columns["time"]] * layout.time_scale
    _check_time(seconds, lines, line_numbers, layout, uri)
    return _series(table, seconds, layout)


def _series(table: np.ndarray, seconds: np.ndarray, layout: _Layout) -> SensorSeries:
    return SensorSeries(
        seconds=seconds,
        electrode_mm=table[:, layout.columns["electrode"]],
        current_a=table[:, layout.columns["current"]],
        voltage_v=table[:, layout.columns["voltage"]],
    )


def _parse_plain(data: bytes, uri: str) -> SensorSeries | None:
    """The series of a valid file of plain decimals with no blank line (LF or CRLF), or None for the
    line-by-line reader to parse (and name any fault). ``data`` is known to be UTF-8."""
    if b"\r" in data:
        if data.count(b"\r") != data.count(b"\r\n"):
            return None  # a lone CR ends a line too: left to the reader that numbers lines
        data = data.replace(b"\r\n", b"\n")
    data = data.removeprefix(b"\xef\xbb\xbf")  # the byte-order mark utf-8-sig drops
    first_end = data.find(b"\n")
    first = (data if first_end < 0 else data[:first_end]).decode("utf-8")
    if not first.strip():
        return None
    layout = _first_line_layout(first, 1, uri)
    body = data if layout.names is None else (b"" if first_end < 0 else data[first_end + 1:])
    table = plain_decimal_table(body)
    if table is None or table.shape[1] < max(layout.columns.values()) + 1 or _outside_bounds(table, layout).any():
        return None
    seconds = table[:, layout.columns["time"]] * layout.time_scale
    if (np.diff(seconds) < 0).any() or len(seconds) < 2 or seconds[-1] == seconds[0]:
        return None  # the reader that numbers lines says what is wrong
    return _series(table, seconds, layout)


def _parse_table(lines: list[str], line_numbers: list[int], width: int, layout: _Layout, uri: str) -> np.ndarray:
    """A (rows, width) float array holding the layout's columns (the others NaN, never read); names the first line
    at fault otherwise: a row of another width, or a cell of a used column that is not a number."""
    # One C-level parse of the whole body (fast for a million rows) when every cell is a number; otherwise the
    # used columns one by one, and only they have to be numbers.
    if sum(line.count(",") for line in lines) == (width - 1) * len(lines):
        values = _numbers(",".join(lines), width * len(lines))
        if values is not None:
            return values.reshape(len(lines), width)
    rows = [line.split(",") for line in lines]
    for row, cells in enumerate(rows):
        if len(cells) != width:
            raise InputError(f"sensor CSV {uri} line {line_numbers[row]}: {len(cells)} columns, expected {width}")
    table = np.full((len(lines), width), np.nan)
    faults = []  # (row, column) of each used column's first cell that is not a number
    for column in sorted(layout.columns.values()):
        cells = [row_cells[column] for row_cells in rows]
        values = _numbers(",".join(cells), len(cells))
        if values is not None:
            table[:, column] = values
        else:
            bad = next((row for row, cell in enumerate(cells) if not _NUMBER.fullmatch(cell)), None)
            faults.append((len(cells) if bad is None else bad, column))
    if faults:
        row, column = min(faults)
        if row == len(lines):  # every cell looked like a number, yet the C parser did not read them all
            raise InputError(f"sensor CSV {uri} {layout.column(column)} could not be parsed as numbers")
        cell = rows[row][column]
        raise InputError(f"sensor CSV {uri} line {line_numbers[row]}, {layout.column(column)}: "
                         f"{_quoted(cell.strip(ASCII_SPACE))} is not a number{_unusual_characters(cell)}")
    return table


def _numbers(text: str, count: int) -> np.ndarray | None:
    """The ``count`` numbers of ``text`` (cells separated by commas), or None if any is not one."""
    if _has_blank_cell(text):
        return None
    try:
        values = np.fromstring(text, sep=",")
    except ValueError:  # a cell that is not a number: found and named by the caller
        return None
    return values if values.size == count else None


def _has_blank_cell(text: str) -> bool:
    """Whether a cell of ``text`` (cells separated by commas) is empty or only spaces: a string search, not a regular
    expression's (which took most of the line-by-line reader's time)."""
    if any(space in text for space in ASCII_SPACE):
        text = text.translate(_WITHOUT_SPACES)
    return not text or text.startswith(",") or text.endswith(",") or ",," in text


def _value_text(lines: list[str], row: int, column: int) -> str:
    cells = lines[row].split(",")
    return cells[column].strip() if column < len(cells) else ""


def _plotted_values(table: np.ndarray, layout: _Layout) -> np.ndarray:
    """The plotted columns (in ``layout.columns`` order) in the bounds' units, exactly as they will be plotted."""
    used = list(layout.columns.values())
    scale = np.array([layout.time_scale if series == "time" else 1.0 for series in layout.columns])
    with np.errstate(invalid="ignore", over="ignore"):
        return table[:, used] * scale


def _outside_bounds(table: np.ndarray, layout: _Layout) -> np.ndarray:
    """Per plotted cell: not finite, or outside its series' ``SENSOR_BOUNDS``."""
    low = np.array([SENSOR_BOUNDS[series].low for series in layout.columns])
    high = np.array([SENSOR_BOUNDS[series].high for series in layout.columns])
    values = _plotted_values(table, layout)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (values < low) | (values > high)


def _check_values(table: np.ndarray, lines: list[str], line_numbers: list[int], layout: _Layout, uri: str) -> None:
    """Every plotted value is finite and inside its series' bound; the first one that is not is named."""
    bad = _outside_bounds(table, layout)
    if not bad.any():
        return
    used = list(layout.columns.values())
    series_of = {index: series for series, index in layout.columns.items()}
    values = _plotted_values(table, layout)
    row, position = (int(i) for i in np.argwhere(bad)[0])
    column = used[position]
    where = f"sensor CSV {uri} line {line_numbers[row]}, {layout.column(column)}"
    written = _value_text(lines, row, column)
    if not np.isfinite(table[row, column]):
        raise InputError(f"{where}: {_quoted(written)} is not a finite number")
    series = series_of[column]
    bound = SENSOR_BOUNDS[series]
    raise InputError(f"{where}: {_quoted(written)} ({values[row, position]:g} {bound.unit}) is outside what a welding "
                     f"sensor records ({series} {bound.low:g} to {bound.high:g} {bound.unit})")


def _check_time(seconds: np.ndarray, lines: list[str], line_numbers: list[int], layout: _Layout, uri: str) -> None:
    """Time never goes backwards, and it advances over the run (bounds already made it non-negative)."""
    column = layout.columns["time"]
    steps = np.diff(seconds)
    if (steps < 0).any():
        row = int(np.argmax(steps < 0)) + 1
        raise InputError(f"sensor CSV {uri} line {line_numbers[row]}, {layout.column(column)}: time goes backwards "
                         f"({_quoted(_value_text(lines, row, column))} after "
                         f"{_quoted(_value_text(lines, row - 1, column))} "
                         f"on line {line_numbers[row - 1]})")
    if len(seconds) == 1:  # drawn, it was three empty plots a worker had to judge
        raise InputError(f"sensor CSV {uri} has one row of data (line {line_numbers[0]}): a run to plot needs two "
                         "or more")
    if seconds[-1] == seconds[0]:
        raise InputError(f"sensor CSV {uri}: time never advances ({layout.column(column)} is "
                         f"{_quoted(_value_text(lines, 0, column))} on every one of its {len(seconds)} rows)")


def _first_line_layout(first: str, line_number: int, uri: str) -> _Layout:
    """The seed layout if the first line is data (its first four cells numbers), else the header's layout."""
    _refuse_other_separators(first, line_number, uri)
    cells = first.split(",")
    if not all(_NUMBER.fullmatch(cell) for cell in cells[:len(_SEED_COLUMNS)]):
        return _header_layout(first, line_number, uri)
    if len(cells) not in SEED_WIDTHS:
        raise InputError(_seed_width_error(cells, line_number, uri))
    return _Layout(dict(_SEED_COLUMNS), SEED_TIME_SCALE, None)


_SEPARATORS = {";": "semicolons", "\t": "tabs"}
# A tab between two cells' contents: not one padding a cell beside its comma ("0,\t0.40"). The spaces before the
# run's first tab, then the rest of the run: one way to match a run of tabs, so a long one is not quadratic.
_SEPARATING_TAB = re.compile(r"[^\s,] *\t[ \t]*(?=[^\s,])")


def _refuse_other_separators(first: str, line_number: int, uri: str) -> None:
    """Refuse a first line whose columns are separated by semicolons or tabs (at least as many as its commas)."""
    commas = first.count(",")
    for separator, count in ((";", first.count(";")), ("\t", len(_SEPARATING_TAB.findall(first)))):
        if count and count >= commas:
            decimal_commas = (" (its commas would be decimal commas, which are not read either: write 22.5, not "
                              "22,5)" if commas else "")
            raise InputError(f"sensor CSV {uri} line {line_number}: its columns are separated by "
                             f"{_SEPARATORS[separator]} ({separator!r}), not commas: only comma-separated files are "
                             f"read{decimal_commas}; save or export the file as CSV with commas")


def _seed_width_error(cells: list[str], line_number: int, uri: str) -> str:
    message = (f"sensor CSV {uri} line {line_number}: {len(cells)} columns, expected 4 or 5 in a file without a "
               "header (time in units of 100 ms, electrode position in mm, current in A, voltage in V, and a fifth "
               "column that is not read)")
    if len(cells) <= max(SEED_WIDTHS):
        return message
    if not cells[-1].strip(ASCII_SPACE):
        message += " (a comma at the end of a line leaves an empty last column)"
    if not any("." in cell for cell in cells):
        message += ("; no number in it has a decimal point: if its decimals are written with a comma (22,5 for "
                    "22.5), write a point, since a comma always separates columns")
    return message + "; a file with other columns needs a header line naming them (time, electrode, current, voltage)"



def _unusual_characters(cell: str) -> str:
    """`` (it holds U+00A0 NO-BREAK SPACE)`` for the characters outside ASCII a cell holds, which look like (or are
    shown as) spaces and digits but are not read as them; empty if there are none."""
    unusual = dict.fromkeys(c for c in cell if not c.isascii())
    named = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed')}" for c in unusual)
    return f" (it holds {named})" if named else ""
