"""Render a labeling quality report (``gt_common.quality_report``) as a PNG or a terminal table.

* ``render_quality_report(report, path) -> Path``: one PNG with Krippendorff's alpha and Fleiss'
  kappa in the title, a horizontal bar chart of per-worker agreement with the consolidated label
  (sorted, least agreeing at the top; at most ``MAX_BARS`` workers, the least agreeing ones) and a
  grid of per-worker confusion matrices (rows = consolidated label, columns = the worker's
  answer, colour = row-normalised share, cell text = count when the matrix is small) for at most
  ``MAX_HEATMAPS`` workers, least agreeing first. Uses ``matplotlib.figure.Figure`` with the Agg
  canvas (no pyplot, no global state, safe in threads and headless).
* ``format_quality_report(report) -> str``: a short text summary with one line per worker,
  sorted by agreement (least agreeing first, workers with nothing to compare last).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_BARS = 40
MAX_HEATMAPS = 12
HEATMAP_COLUMNS = 4

__all__ = ["format_quality_report", "render_quality_report", "workers_by_agreement"]


def workers_by_agreement(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(worker_id, stats)`` pairs, least agreeing first; workers without agreement (None) last,
    ties by more answers first then by id (a deterministic order)."""
    items = list(report.get("workers", {}).items())

    def key(item: tuple[str, Mapping[str, Any]]):
        name, w = item
        agreement = w.get("agreement")
        return (agreement is None, agreement if agreement is not None else 0.0, -int(w.get("answers", 0)), str(name))

    return sorted(items, key=key)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _title(report: Mapping[str, Any]) -> str:
    agreement = report.get("agreement", {})
    kappa_detail = ""
    if agreement.get("fleiss_kappa_raters") is not None:
        kappa_detail = (
            f" ({agreement.get('fleiss_kappa_objects', 0)} objects with "
            f"{agreement.get('fleiss_kappa_raters')} answers)"
        )
    return (
        f"Labeling quality: {report.get('objects', 0)} objects, {report.get('answers', 0)} answers, "
        f"{len(report.get('workers', {}))} workers\n"
        f"Krippendorff's alpha (nominal) = {_fmt(agreement.get('krippendorff_alpha'))}   "
        f"Fleiss' kappa = {_fmt(agreement.get('fleiss_kappa'))}{kappa_detail}"
    )


def render_quality_report(report: Mapping[str, Any], path: Path) -> Path:
    """Write the report as one PNG at ``path`` (parent directories created) and return the path."""
    path = Path(path)
    classes = [str(c) for c in report.get("classes", [])]
    k = len(classes)
    ordered = workers_by_agreement(report)
    bars = ordered[:MAX_BARS]
    heatmaps = ordered[:MAX_HEATMAPS] if k else []

    heat_rows = math.ceil(len(heatmaps) / HEATMAP_COLUMNS) if heatmaps else 0
    bar_height = max(1.5, 0.28 * len(bars) + 1.0)
    cell = 2.9 + 0.12 * max(0, k - 4)
    width = max(10.0, HEATMAP_COLUMNS * cell)
    height = 1.3 + bar_height + (heat_rows * cell + 0.9 if heat_rows else 0.0)

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    fig.suptitle(_title(report), fontsize=11)

    top = 1.0 - 1.1 / height
    bar_bottom = top - bar_height / height
    gs_bar = fig.add_gridspec(1, 1, left=0.22, right=0.95, top=top - 0.35 / height, bottom=bar_bottom + 0.45 / height)
    ax = fig.add_subplot(gs_bar[0, 0])
    if bars:
        names = [str(name) for name, _ in bars]
        values = [w.get("agreement") for _, w in bars]
        y = np.arange(len(bars))
        heights = [v if v is not None else 0.0 for v in values]
        colours = ["#bbbbbb" if v is None else ("#d62728" if v < 0.5 else "#ff7f0e" if v < 0.8 else "#2ca02c") for v in values]
        ax.barh(y, heights, color=colours)
        ax.set_yticks(y, labels=[f"{n} ({w.get('answers', 0)})" for n, (_, w) in zip(names, bars)], fontsize=8)
        ax.invert_yaxis()  # least agreeing at the top
        for yi, v in zip(y, values):
            ax.text((v or 0.0) + 0.01, yi, _fmt(v, 2), va="center", fontsize=7)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no worker answers", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("agreement with the consolidated label (answers in parentheses)", fontsize=9)
    shown = f"least agreeing {len(bars)} of {len(ordered)} workers" if len(bars) < len(ordered) else "all workers"
    ax.set_title(f"Per-worker agreement, sorted ({shown})", fontsize=10)

    if heat_rows:
        gs = fig.add_gridspec(
            heat_rows, HEATMAP_COLUMNS, left=0.08, right=0.97, top=bar_bottom - 0.6 / height,
            bottom=0.25 / height + 0.02, hspace=0.55, wspace=0.45,
        )
        heat_title = (
            f"Confusion matrices of the {len(heatmaps)} least agreeing of {len(ordered)} workers"
            if len(heatmaps) < len(ordered) else "Confusion matrices, least agreeing worker first"
        )
        fig.text(0.5, bar_bottom - 0.05 / height, heat_title + " (rows: consolidated, columns: worker)",
                 ha="center", va="top", fontsize=10)
        annotate = k <= 6
        short = [c if len(c) <= 8 else c[:7] + "…" for c in classes]
        for i, (name, w) in enumerate(heatmaps):
            hax = fig.add_subplot(gs[i // HEATMAP_COLUMNS, i % HEATMAP_COLUMNS])
            counts = np.asarray(w.get("confusion", np.zeros((k, k))), dtype=np.float64).reshape(k, k)
            row_sums = counts.sum(axis=1, keepdims=True)
            share = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
            hax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
            hax.set_title(f"{name}: {_fmt(w.get('agreement'), 2)}", fontsize=8)
            ticks = np.arange(k)
            if k <= 12:
                hax.set_xticks(ticks, labels=short, fontsize=6, rotation=60, ha="right")
                hax.set_yticks(ticks, labels=short, fontsize=6)
            else:
                hax.set_xticks([])
                hax.set_yticks([])
            if annotate:
                for r in range(k):
                    for c in range(k):
                        if counts[r, c]:
                            hax.text(c, r, str(int(counts[r, c])), ha="center", va="center", fontsize=6,
                                     color="white" if share[r, c] > 0.6 else "black")

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def format_quality_report(report: Mapping[str, Any]) -> str:
    """A short terminal summary: totals, alpha/kappa, label counts and one line per worker."""
    agreement = report.get("agreement", {})
    lines = [
        f"Quality report: {report.get('objects', 0)} objects, {report.get('answers', 0)} answers, "
        f"{len(report.get('workers', {}))} workers, {len(report.get('classes', []))} classes",
        f"Krippendorff's alpha (nominal): {_fmt(agreement.get('krippendorff_alpha'))}"
        + (f"  [{agreement['krippendorff_alpha_note']}]" if agreement.get("krippendorff_alpha_note") else ""),
        f"Fleiss' kappa: {_fmt(agreement.get('fleiss_kappa'))}"
        + (f"  [{agreement['fleiss_kappa_note']}]" if agreement.get("fleiss_kappa_note") else ""),
    ]
    counts = report.get("consolidated_label_counts", {})
    if counts:
        lines.append("Consolidated labels: " + ", ".join(f"{c}={n}" for c, n in counts.items())
                     + (f", none={report['unconsolidated_objects']}" if report.get("unconsolidated_objects") else ""))
    ordered = workers_by_agreement(report)
    if ordered:
        width = max(6, *(len(str(name)) for name, _ in ordered))
        lines.append("")
        lines.append(f"{'worker':<{width}}  {'answers':>7}  {'compared':>8}  {'agreement':>9}")
        for name, w in ordered:
            lines.append(
                f"{str(name):<{width}}  {int(w.get('answers', 0)):>7}  {int(w.get('compared', 0)):>8}  "
                f"{_fmt(w.get('agreement')):>9}"
            )
    return "\n".join(lines)
