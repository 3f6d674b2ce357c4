"""Draw a labeling quality report as a PNG, or summarise it as text.

Three kinds of report come from the consolidation function (``quality-report/<question>.json``):

* a choice question's (``gt_common.quality_report``): the title holds Krippendorff's alpha and
  Fleiss' kappa; beside each other, the answers and consolidated labels per class (counts written
  at the bars) and each worker's agreement with the consolidated label (with experts' decisions in,
  the final label: ``compared_with_experts`` says so under the title) (sorted, least agreeing at
  the top; at most ``MAX_BARS`` workers); below, the confusion matrices of at most ``MAX_HEATMAPS``
  workers, least agreeing first (rows = consolidated label, columns = the worker's answer, colour =
  row-normalised share, every non-zero cell's count written up to ``MAX_ANNOTATED_CLASSES`` classes; past
  ``MAX_LABELLED_CLASSES`` a matrix names no class and its cells shrink to keep it ``MAX_UNLABELLED_MATRIX`` inches;
  each titled with its worker's name, wrapped to its width);
* a MultiSelect question's (``gt_common.multi_select_quality``, ``kind`` "multi-select"): each choice
  judged as a yes/no, alpha, kappa and agreement pooled over every object-choice pair; per choice the
  answers ticking it and the objects it was chosen for (with the choice's own alpha); the rest is
  drawn as a choice question's report is;
* a Spans question's (``gt_common.span_quality``, ``kind`` "spans"): per label the consolidated
  spans, the workers' spans and those matching the result; per label the workers' precision and
  recall against the result and their pairwise F1 between each other; each worker's F1; the
  job's label confusion with a "no span" row and column.

Every class and label is written in full (axes are sized to the longest name; the figure grows
with the number of classes and workers), never cut. ``matplotlib.figure.Figure`` with the Agg
canvas and constrained layout: no pyplot, no global state, safe in threads and headless.

``render_quality_report(report, path)`` writes the PNG; ``quality_report_png(report)`` returns its
bytes; ``format_quality_report(report)`` is the text summary (workers least agreeing first).
"""
from __future__ import annotations

import functools
import io
import math
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.ticker import MaxNLocator

from gt_common.multi_select_quality import KIND as MULTI_SELECT_KIND  # a MultiSelect's report, each choice a yes/no
from gt_common.span_quality import KIND as SPANS_KIND  # a Spans question's report
from gt_common.span_quality import NO_SPAN
from gt_common.worker_agreement import MIN_SPAM_ANSWERS, SPAM_KAPPA
from local_ground_truth.wording import counted, printable

MAX_BARS = 40
MAX_HEATMAPS = 12
MAX_ANNOTATED_CLASSES = 12  # beyond this a matrix's cells are too small for their counts
MAX_LABELLED_CLASSES = 30  # beyond this a matrix's axes are not labelled (the count panel names them all)
MAX_UNLABELLED_MATRIX = 6.0  # inches: an unlabelled matrix's cells shrink to keep it so
DPI = 100
TICK_FONT = 8
MATRIX_TITLE_FONT = 9
_CHAR_INCHES = TICK_FONT * 0.62 / 72  # the width of an average character of tick labels
_TITLE_CHAR_INCHES = MATRIX_TITLE_FONT * 0.62 / 72
_TITLE_LINE_INCHES = MATRIX_TITLE_FONT * 1.25 / 72
ANSWER_COLOUR, CONSOLIDATED_COLOUR, MATCHED_COLOUR = "#9ecae1", "#2171b5", "#31a354"

__all__ = ["compared_with_experts", "drawable_text", "format_quality_report", "quality_report_png",
           "render_quality_report", "workers_by_agreement"]


def workers_by_agreement(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(worker_id, stats)`` pairs, least agreeing first; workers without agreement (None) last,
    ties by more answers first then by id (a deterministic order). A span report's workers are
    ordered by their F1 against the consolidated spans."""
    items = list(report.get("workers", {}).items())
    measure = "f1" if _is_spans(report) else "agreement"

    def key(item: tuple[str, Mapping[str, Any]]):
        name, w = item
        agreement = w.get(measure)
        return (agreement is None, agreement if agreement is not None else 0.0, -int(w.get("answers", 0)), str(name))

    return sorted(items, key=key)


def _is_spans(report: Mapping[str, Any]) -> bool:
    return report.get("kind") == SPANS_KIND


def _is_multi_select(report: Mapping[str, Any]) -> bool:
    return report.get("kind") == MULTI_SELECT_KIND


def _per_choice(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """A MultiSelect report's choices, in the question's order, each with its yes/no figures."""
    per_choice = report.get("per_choice", {})
    return [(str(choice), per_choice.get(choice, {})) for choice in report.get("choices", [])]


def _yes(counts: Any) -> int | None:
    """How many said Yes (the first of a choice's yes/no classes) in a count per class; None without one."""
    return int(next(iter(counts.values()), 0)) if isinstance(counts, Mapping) and counts else None


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@functools.lru_cache(maxsize=1)
def _drawable() -> frozenset[int]:
    """The code points the figures' font has glyphs for."""
    return frozenset(FT2Font(font_manager.findfont(font_manager.FontProperties())).get_charmap())


def drawable_text(text: str) -> str:
    """``text`` (a class, label, worker or question name: any Unicode string) as matplotlib should draw it:
    literally (a "$" escaped, never read as mathtext, whose parser would refuse a name like "$\\frac{$"),
    and every character the font has no glyph for written as its code point (two names that differ only in
    such characters still differ, instead of both becoming boxes)."""
    drawable = _drawable()
    return "".join("\\$" if c == "$" else c if c.isspace() or ord(c) in drawable else f"<U+{ord(c):04X}>"
                   for c in str(text))


def _text_inches(names: Sequence[str]) -> float:
    return max((len(drawable_text(name)) for name in names), default=0) * _CHAR_INCHES


def _agreement_colour(value: float | None) -> str:
    return "#bbbbbb" if value is None else ("#d62728" if value < 0.5 else "#ff7f0e" if value < 0.8 else "#2ca02c")


# -- shared panels -------------------------------------------------------------------------------------

def _count_bars(ax, names: Sequence[str], series: Sequence[tuple[str, Sequence[int | None], str]], title: str) -> None:
    """Horizontal grouped bars, one group per name (in the given order, top down), counts written at the bars."""
    y = np.arange(len(names), dtype=float)
    height = 0.8 / max(1, len(series))
    peak = max([value or 0 for _, values, _ in series for value in values] + [1])
    for s, (legend, values, colour) in enumerate(series):
        offsets = y - 0.4 + height * (s + 0.5)
        ax.barh(offsets, [value or 0 for value in values], height=height, color=colour, label=legend)
        for offset, value in zip(offsets, values):
            ax.text((value or 0) + peak * 0.01, offset, "n/a" if value is None else str(value), va="center",
                    fontsize=7)
    ax.set_yticks(y, labels=[drawable_text(name) for name in names], fontsize=TICK_FONT)
    ax.set_ylim(max(len(names), 1) - 0.5, -0.5)  # first name at the top (an empty axis still has a height)
    ax.set_xlim(0, peak * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelsize=7)
    _legend_below(ax, len(series))
    ax.set_title(drawable_text(title), fontsize=10)


def _legend_below(ax, entries: int) -> None:
    """The legend under the axis, clear of the bars."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=entries, frameon=False)


def _rate_bars(ax, names: Sequence[str], values: Sequence[float | None], notes: Sequence[str], xlabel: str,
               title: str) -> None:
    """One bar per name in [0, 1], coloured by level, the value (and a note) written at the bar."""
    y = np.arange(len(names))
    if names:
        ax.barh(y, [v if v is not None else 0.0 for v in values], color=[_agreement_colour(v) for v in values])
        ax.set_yticks(y, labels=[drawable_text(f"{name} ({note})" if note else name)
                                 for name, note in zip(names, notes)], fontsize=TICK_FONT)
        ax.set_ylim(len(names) - 0.5, -0.5)  # the first (least agreeing) at the top
        for yi, v in zip(y, values):
            ax.text((v or 0.0) + 0.01, yi, _fmt(v, 2), va="center", fontsize=7)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no worker answers", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(0, 1.1)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(drawable_text(title), fontsize=10)


def _heatmap(ax, counts: np.ndarray, rows: Sequence[str], columns: Sequence[str], title: str) -> None:
    """Counts coloured by their row's share, every class named in full, non-zero counts written."""
    row_sums = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="equal")
    ax.set_anchor("N")
    ax.set_title(drawable_text(title), fontsize=MATRIX_TITLE_FONT)
    if max(len(rows), len(columns)) <= MAX_LABELLED_CLASSES:
        ax.set_xticks(np.arange(len(columns)), labels=[drawable_text(c) for c in columns], fontsize=TICK_FONT,
                      rotation=60, ha="right", rotation_mode="anchor")
        ax.set_yticks(np.arange(len(rows)), labels=[drawable_text(r) for r in rows], fontsize=TICK_FONT)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if max(len(rows), len(columns)) <= MAX_ANNOTATED_CLASSES:
        for r in range(counts.shape[0]):
            for c in range(counts.shape[1]):
                if counts[r, c]:
                    ax.text(c, r, str(int(counts[r, c])), ha="center", va="center", fontsize=7,
                            color="white" if share[r, c] > 0.6 else "black")


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


# -- a choice question ---------------------------------------------------------------------------------

def compared_with_experts(report: Mapping[str, Any]) -> str:
    """What the workers are compared with once experts decided objects ("" while the crowd's labels alone)."""
    decided = int(report.get("decided_objects") or 0)
    if not decided:
        return ""
    return (f"workers compared with the final labels: {counted(decided, 'object')} decided by experts, "
            f"{int(report.get('changed_objects') or 0)} otherwise than the crowd")


def _compared_label(report: Mapping[str, Any]) -> str:
    return "final label" if report.get("decided_objects") else "consolidated label"


def _totals(report: Mapping[str, Any]) -> str:
    """"70 objects, 210 answers, 3 workers" ("1 worker", not "1 workers")."""
    return (f"{counted(int(report.get('objects', 0)), 'object')}, {counted(int(report.get('answers', 0)), 'answer')}, "
            f"{counted(len(report.get('workers', {})), 'worker')}")


def _title(report: Mapping[str, Any]) -> str:
    agreement = report.get("agreement", {})
    kappa_detail = ""
    if agreement.get("fleiss_kappa_raters") is not None:
        kappa_detail = (
            f" ({agreement.get('fleiss_kappa_objects', 0)} objects with "
            f"{agreement.get('fleiss_kappa_raters')} answers)"
        )
    question = f"{report['question']}: " if report.get("question") else ""
    pooled = (f"every choice as a yes/no ({report.get('units', 0)} object-choice pairs): "
              if _is_multi_select(report) else "")
    return (
        f"Labeling quality of {question}{_totals(report)}\n{pooled}"
        f"Krippendorff's alpha (nominal) = {_fmt(agreement.get('krippendorff_alpha'))}   "
        f"Fleiss' kappa = {_fmt(agreement.get('fleiss_kappa'))}{kappa_detail}"
        + (f"\n{compared_with_experts(report)}" if report.get("decided_objects") else "")
    )


def _answer_counts(report: Mapping[str, Any], classes: Sequence[str]) -> list[int | None]:
    """Answers per class: the report's own count, else (a report from before it was counted) None."""
    counted = report.get("answer_label_counts")
    return [int(counted.get(c, 0)) for c in classes] if isinstance(counted, Mapping) else [None] * len(classes)


def _draw_choice_report(report: Mapping[str, Any]) -> Figure:
    classes = [str(c) for c in report.get("classes", [])]
    k = len(classes)
    ordered = workers_by_agreement(report)
    bars = ordered[:MAX_BARS]
    heatmaps = ordered[:MAX_HEATMAPS] if k else []
    labelled = k <= MAX_LABELLED_CLASSES  # else a matrix names no class (the count panel names them all)
    names = _text_inches(classes) if labelled else 0.0
    columns = max(1, min(len(heatmaps), 4 if k <= 4 else 3 if k <= 8 else 2))
    heat_rows = math.ceil(len(heatmaps) / columns) if heatmaps else 0
    # A matrix's side: its cells are square, so its column's width is its height too. Unlabelled, its cells shrink to
    # keep it at most ~MAX_UNLABELLED_MATRIX inches (100 classes would draw twelve 43-inch matrices: a gigabyte).
    matrix = k * (0.42 if labelled else min(0.42, MAX_UNLABELLED_MATRIX / k)) + 0.5
    heat_width = names + matrix
    # Each matrix's title (its worker, wrapped to the matrix's width: a name is never cut, nor drawn over the next).
    titles = [_wrapped(f"{name}: {_fmt(w.get('agreement'), 2)} of {int(w.get('compared', 0))}", matrix)
              for name, w in heatmaps]
    title_lines = max((title.count("\n") for title in titles), default=0)
    # x labels at 60 degrees, clear of the bottom edge; the title's lines
    heat_height = names * 0.87 + matrix + 0.4 + title_lines * _TITLE_LINE_INCHES
    top_height = max(2.6, 0.22 * max(len(bars), 2 * max(k, len(report.get("choices", [])))) + 1.6)
    worker_names = _text_inches([f"{name} ({w.get('answers', 0)})" for name, w in bars])
    count_names = _text_inches([f"{choice} (alpha -0.00)" for choice, _ in _per_choice(report)]
                               if _is_multi_select(report) else classes)  # the count panel's names
    # Two panels of one width side by side, each its names, bars and title.
    width = max(11.0, columns * heat_width + 0.4, 2 * max(count_names, worker_names) + 7.0)
    height = 0.9 + top_height + (heat_rows * heat_height + 0.4 if heat_rows else 0.0)

    figure = _figure(width, height)
    figure.suptitle(drawable_text(_title(report)), fontsize=11)
    top, bottom = (figure.subfigures(2, 1, height_ratios=[top_height, heat_rows * heat_height + 0.4])
                   if heat_rows else (figure.subfigures(1, 1), None))
    counts_axis, workers_axis = top.subplots(1, 2, width_ratios=[1, 1])
    if _is_multi_select(report):
        choices = _per_choice(report)
        _count_bars(counts_axis, [f"{choice} (alpha {_fmt(c.get('agreement', {}).get('krippendorff_alpha'), 2)})"
                                  for choice, c in choices],
                    [("answers ticking it", [_yes(c.get("answer_label_counts")) for _, c in choices], ANSWER_COLOUR),
                     ("objects it was chosen for", [_yes(c.get("consolidated_label_counts")) for _, c in choices],
                      CONSOLIDATED_COLOUR)],
                    "Each choice: answers ticking it, objects it was chosen for")
    else:
        consolidated = report.get("consolidated_label_counts", {})
        _count_bars(counts_axis, classes, [("answers", _answer_counts(report, classes), ANSWER_COLOUR),
                                           ("consolidated labels", [int(consolidated.get(c, 0)) for c in classes],
                                            CONSOLIDATED_COLOUR)],
                    "Answers and consolidated labels per class"
                    + (f" ({report['unconsolidated_objects']} objects without one)"
                       if report.get("unconsolidated_objects") else ""))
    shown = f"least agreeing {len(bars)} of {len(ordered)} workers" if len(bars) < len(ordered) else "all workers"
    _rate_bars(workers_axis, [str(name) for name, _ in bars], [w.get("agreement") for _, w in bars],
               [str(w.get("answers", 0)) for _, w in bars],
               f"agreement with the {_compared_label(report)} (answers in parentheses)",
               f"Per-worker agreement, sorted ({shown})")
    if bottom is not None:
        heat_title = (f"Confusion matrices of the {len(heatmaps)} least agreeing of {len(ordered)} workers"
                      if len(heatmaps) < len(ordered) else "Confusion matrices, least agreeing worker first")
        bottom.suptitle(heat_title + f" (rows: {_compared_label(report)}, columns: the worker's answer; counts in the cells)",
                        fontsize=10)
        for axis, (name, w), title in zip(_heatmap_axes(bottom, len(heatmaps), columns, matrix,
                                                        width - columns * heat_width), heatmaps, titles):
            counts = np.asarray(w.get("confusion", np.zeros((k, k))), dtype=np.float64).reshape(k, k)
            _heatmap(axis, counts, classes, classes, title)
    return figure


def _wrapped(title: str, inches: float) -> str:
    """``title`` in lines of at most ``inches`` (a long name broken where it must be, never cut)."""
    return "\n".join(textwrap.wrap(title, max(8, int(inches / _TITLE_CHAR_INCHES)), break_on_hyphens=False)) or title


def _heatmap_axes(subfigure, count: int, columns: int, side: float, spare: float) -> list:
    """``count`` axes for square matrices ``side`` inches wide, in rows of ``columns``, centred in ``subfigure``.

    A matrix's cells are square, so a matrix wider than planned is as much taller than planned: past the titles
    above it and the bottom edge under its names (a report of two workers was drawn so). The ``spare`` inches the
    figure is wider than its columns go to empty columns either side. (Constrained layout shares the width left
    after each axis's names by these ratios.)"""
    ratios = [spare / 2, *[side] * columns, spare / 2] if spare > 0.05 else [side] * columns
    first = 1 if len(ratios) > columns else 0
    grid = subfigure.add_gridspec(math.ceil(count / columns), len(ratios), width_ratios=ratios)
    return [subfigure.add_subplot(grid[n // columns, first + n % columns]) for n in range(count)]


# -- a Spans question ----------------------------------------------------------------------------------

def _span_title(report: Mapping[str, Any]) -> str:
    agreement = report.get("agreement", {})
    question = f"{report['question']}: " if report.get("question") else ""
    return (
        f"Span tagging quality of {question}{_totals(report)}, "
        f"{counted(sum(report.get('consolidated_span_counts', {}).values()), 'consolidated span')}\n"
        f"workers vs the consolidated spans: precision {_fmt(agreement.get('precision'))}, "
        f"recall {_fmt(agreement.get('recall'))}, F1 {_fmt(agreement.get('f1'))}   "
        f"between workers: pairwise F1 {_fmt(agreement.get('inter_worker_f1'))} "
        f"({agreement.get('inter_worker_pairs', 0)} pairs)"
    )


def _draw_span_report(report: Mapping[str, Any]) -> Figure:
    labels = [str(label) for label in report.get("labels", [])]
    per_label = report.get("per_label", {})
    k = len(labels)
    ordered = workers_by_agreement(report)
    bars = ordered[:MAX_BARS]
    names = _text_inches(labels + [NO_SPAN])
    panel_height = max(2.8, 0.2 * 3 * k + 1.6)
    heat = (k + 1) * 0.45 + names + 1.0
    worker_height = max(2.4, 0.26 * len(bars) + 1.4)
    worker_names = _text_inches([f"{name} (P 0.00, R 0.00)" for name, _ in bars])
    # The bottom row: the workers' names and bars beside the matrix with its names and two-line title (~5 inches).
    width = max(12.0, 2 * (names + 5.0), worker_names + 4.0 + max(names + (k + 1) * 0.45, 5.0) + 1.0)
    height = 1.0 + panel_height + max(worker_height, heat)

    figure = _figure(width, height)
    figure.suptitle(drawable_text(_span_title(report)), fontsize=11)
    top, bottom = figure.subfigures(2, 1, height_ratios=[panel_height, max(worker_height, heat)])
    counts_axis, rates_axis = top.subplots(1, 2)
    label = lambda name, key: per_label.get(name, {}).get(key)  # noqa: E731
    _count_bars(counts_axis, labels, [("consolidated spans", [label(n, "consolidated_spans") or 0 for n in labels],
                                       CONSOLIDATED_COLOUR),
                                      ("workers' spans", [label(n, "worker_spans") or 0 for n in labels], ANSWER_COLOUR),
                                      ("workers' spans matching the result", [label(n, "matched") or 0 for n in labels],
                                       MATCHED_COLOUR)],
                "Spans per label")
    y = np.arange(k, dtype=float)
    series = [("precision vs result", "precision", "#6baed6"), ("recall vs result", "recall", "#2171b5"),
              ("F1 between workers", "inter_worker_f1", "#fd8d3c")]
    height = 0.8 / len(series)
    for s, (legend, key, colour) in enumerate(series):
        offsets = y - 0.4 + height * (s + 0.5)
        values = [label(n, key) for n in labels]
        rates_axis.barh(offsets, [v or 0.0 for v in values], height=height, color=colour, label=legend)
        for offset, value in zip(offsets, values):
            rates_axis.text((value or 0.0) + 0.01, offset, _fmt(value, 2), va="center", fontsize=7)
    rates_axis.set_yticks(y, labels=[drawable_text(n) for n in labels], fontsize=TICK_FONT)
    rates_axis.set_ylim(k - 0.5, -0.5)
    rates_axis.set_xlim(0, 1.15)
    rates_axis.tick_params(axis="x", labelsize=7)
    _legend_below(rates_axis, len(series))
    rates_axis.set_title("Agreement per label", fontsize=10)

    workers_axis, confusion_axis = bottom.subplots(1, 2)
    shown = f"least agreeing {len(bars)} of {len(ordered)} workers" if len(bars) < len(ordered) else "all workers"
    _rate_bars(workers_axis, [str(name) for name, _ in bars], [w.get("f1") for _, w in bars],
               [f"P {_fmt(w.get('precision'), 2)}, R {_fmt(w.get('recall'), 2)}" for _, w in bars],
               "F1 of the worker's spans against the consolidated spans", f"Per-worker F1, sorted ({shown})")
    confusion = np.asarray(report.get("confusion", np.zeros((k + 1, k + 1))), dtype=np.float64).reshape(k + 1, k + 1)
    _heatmap(confusion_axis, confusion, labels + [NO_SPAN], labels + [NO_SPAN],
             "Every worker's spans against the result\n(rows: consolidated label, columns: the worker's label)")
    return figure


# -- entry points --------------------------------------------------------------------------------------

def draw_quality_report(report: Mapping[str, Any]) -> Figure:
    """The report's figure (either kind)."""
    return _draw_span_report(report) if _is_spans(report) else _draw_choice_report(report)


def render_quality_report(report: Mapping[str, Any], path: Path) -> Path:
    """Write the report as one PNG at ``path`` (parent directories created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_quality_report(report).savefig(path, format="png")
    return path


def quality_report_png(report: Mapping[str, Any]) -> bytes:
    """The report's PNG, as bytes."""
    buffer = io.BytesIO()
    draw_quality_report(report).savefig(buffer, format="png")
    return buffer.getvalue()


def format_quality_report(report: Mapping[str, Any]) -> str:
    """A short terminal summary: totals, agreement, counts per class or label, one line per worker. Each line is
    ``printable``: a name holding a control character (an escape sequence in a report's JSON) is shown escaped,
    never sent to the terminal."""
    text = _format_spans(report) if _is_spans(report) else _format_choice(report)
    return "\n".join(printable(line) for line in text.split("\n"))


def _format_choice(report: Mapping[str, Any]) -> str:
    agreement = report.get("agreement", {})
    lines = [
        f"Quality report: {_totals(report)}, {counted(len(report.get('classes', [])), 'class', 'classes')}",
        f"Krippendorff's alpha (nominal): {_fmt(agreement.get('krippendorff_alpha'))}"
        + (f"  [{agreement['krippendorff_alpha_note']}]" if agreement.get("krippendorff_alpha_note") else ""),
        f"Fleiss' kappa: {_fmt(agreement.get('fleiss_kappa'))}"
        + (f"  [{agreement['fleiss_kappa_note']}]" if agreement.get("fleiss_kappa_note") else ""),
    ]
    if _is_multi_select(report):
        lines[0] = (f"Quality report: {_totals(report)}, "
                    f"{counted(len(report.get('choices', [])), 'choice')}; alpha, "
                    f"kappa and agreement over every choice as a yes/no ({report.get('units', 0)} object-choice pairs)")
        choices = _per_choice(report)
        width = max(6, *(len(choice) for choice, _ in choices)) if choices else 6
        lines += ["", f"{'choice':<{width}}  {'ticked':>6}  {'chosen':>6}  {'alpha':>6}  least agreeing worker"]
        for choice, figures in choices:
            ranked = workers_by_agreement(figures)
            least = f"{ranked[0][0]} ({_fmt(ranked[0][1].get('agreement'))})" if ranked else "-"
            ticked, chosen = _yes(figures.get("answer_label_counts")), _yes(figures.get("consolidated_label_counts"))
            lines.append(f"{choice:<{width}}  {_fmt(ticked):>6}  {_fmt(chosen):>6}  "
                         f"{_fmt(figures.get('agreement', {}).get('krippendorff_alpha')):>6}  {least}")
    counts = report.get("consolidated_label_counts", {}) if not _is_multi_select(report) else {}
    if counts:
        lines.append("Consolidated labels: " + ", ".join(f"{c}={n}" for c, n in counts.items())
                     + (f", none={report['unconsolidated_objects']}" if report.get("unconsolidated_objects") else ""))
    answered = report.get("answer_label_counts") if not _is_multi_select(report) else None
    if isinstance(answered, Mapping) and answered:
        lines.append("Answers: " + ", ".join(f"{c}={n}" for c, n in answered.items()))
    reviewed = compared_with_experts(report)
    if reviewed:
        lines.append(reviewed[0].upper() + reviewed[1:])
    ordered = workers_by_agreement(report)
    if ordered:
        width = max(6, *(len(str(name)) for name, _ in ordered))
        lines.append("")
        experts = f"  {'experts agreed':>14}" if reviewed else ""
        lines.append(f"{'worker':<{width}}  {'answers':>7}  {'compared':>8}  {'agreement':>9}{experts}")
        for name, w in ordered:
            with_experts = ""
            if reviewed:
                on_decided = int(w.get("expert_answers") or 0)
                agreed = int(w.get("expert_agreed") or 0)
                with_experts = f"  {f'{agreed} of {on_decided}' if on_decided else '-':>14}"
            lines.append(
                f"{str(name):<{width}}  {int(w.get('answers', 0)):>7}  {int(w.get('compared', 0)):>8}  "
                f"{_fmt(w.get('agreement')):>9}{with_experts}"
            )
    flags = worker_flags(report)
    if flags:
        lines += ["", "Flagged:"] + [f"  {flag}" for flag in flags]
    return "\n".join(lines)


def _format_spans(report: Mapping[str, Any]) -> str:
    agreement = report.get("agreement", {})
    lines = [
        f"Span quality report: {_totals(report)}, "
        f"{counted(len(report.get('labels', [])), 'label')}",
        f"Workers vs the consolidated spans: precision {_fmt(agreement.get('precision'))}, recall "
        f"{_fmt(agreement.get('recall'))}, F1 {_fmt(agreement.get('f1'))}; labels agree on "
        f"{_fmt(agreement.get('label_agreement'))} of the spans placed alike",
        f"Between workers: pairwise F1 {_fmt(agreement.get('inter_worker_f1'))} over "
        f"{agreement.get('inter_worker_pairs', 0)} pairs"
        + (f"  [{agreement['inter_worker_f1_note']}]" if agreement.get("inter_worker_f1_note") else ""),
    ]
    per_label = report.get("per_label", {})
    if per_label:
        width = max(5, *(len(str(name)) for name in per_label))
        lines += ["", f"{'label':<{width}}  {'result':>6}  {'workers':>7}  {'matched':>7}  {'precision':>9}  "
                      f"{'recall':>6}  {'pair F1':>7}"]
        for name, row in per_label.items():
            lines.append(f"{str(name):<{width}}  {row.get('consolidated_spans', 0):>6}  {row.get('worker_spans', 0):>7}  "
                         f"{row.get('matched', 0):>7}  {_fmt(row.get('precision')):>9}  {_fmt(row.get('recall')):>6}  "
                         f"{_fmt(row.get('inter_worker_f1')):>7}")
    ordered = workers_by_agreement(report)
    if ordered:
        width = max(6, *(len(str(name)) for name, _ in ordered))
        lines += ["", f"{'worker':<{width}}  {'answers':>7}  {'spans':>6}  {'precision':>9}  {'recall':>6}  {'F1':>6}"]
        for name, w in ordered:
            lines.append(f"{str(name):<{width}}  {int(w.get('answers', 0)):>7}  {int(w.get('spans', 0)):>6}  "
                         f"{_fmt(w.get('precision')):>9}  {_fmt(w.get('recall')):>6}  {_fmt(w.get('f1')):>6}")
    return "\n".join(lines)


def worker_flags(report: Mapping[str, Any]) -> list[str]:
    """What a choice or multi-select report flags about its workers, one sentence each: workers whose answers carry
    no information (``spam_workers``), pairs who agree beyond what their skills explain (``colluding_pairs``), and
    workers who missed gold answers (``gold_accuracy`` below 1); per choice of a multi-select. Empty when nothing is
    flagged."""
    scopes = ([(f"{choice}: ", figures) for choice, figures in (report.get("per_choice") or {}).items()]
              if _is_multi_select(report) else [("", report)])
    workers = report.get("workers") or {}
    lines = []
    for scope, figures in scopes:
        spam = [str(name) for name in figures.get("spam_workers") or []]
        if spam:
            lines.append(f"{scope}answers that carry no information (Cohen's kappa against the labels at most "
                         f"{SPAM_KAPPA} over at least {MIN_SPAM_ANSWERS} answers): "
                         + ", ".join(f"{name} (kappa {_kappa(workers.get(name, {}).get('kappa'))})" for name in spam))
        for pair in figures.get("colluding_pairs") or []:
            first, second = (str(name) for name in pair.get("workers", ["?", "?"]))
            lines.append(f"{scope}{first} and {second} answer alike beyond what their skills explain: "
                         f"{pair.get('agreed')} of {pair.get('shared_objects')} shared objects alike (chance "
                         f"{pair.get('chance_agreement')}), kappa {pair.get('kappa')} where their skills explain "
                         f"{pair.get('kappa_explained_by_skill')}")
    missed = [(str(name), figures) for name, figures in workers.items()
              if figures.get("gold_answers") and (figures.get("gold_accuracy") or 0) < 1]
    if missed:
        lines.append("gold answers missed: " + ", ".join(
            f"{name} ({round(figures['gold_answers'] * (figures.get('gold_accuracy') or 0))} of "
            f"{figures['gold_answers']} right)" for name, figures in sorted(missed, key=lambda item: item[0])))
    return lines


def _kappa(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "n/a"
