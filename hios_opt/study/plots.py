"""The standard figures of a study, one call each, from :func:`hios_opt.study.load`'s DataFrame.

* :func:`speedup_vs_gpus`: mean speedup over the sequential schedule against
  the GPU count, one line per algorithm (one panel per stream count);
* :func:`gap_vs_size`: mean gap to the best proven bound against the number
  of ops, one line per algorithm;
* :func:`time_to_proof`: for each exact solver, the share of its cells
  proven optimal within t seconds (a CDF);
* :func:`plot_win_loss`: the heuristic win/loss matrix (:func:`win_loss`).

Rows with ``status = "error"`` are left out. A row's gap is taken to the
*best* bound of its problem (:func:`best_bounds`: the largest lower bound any
row of the same graph and platform reported, every one being valid). Each
function returns a matplotlib Figure (``ax=``: draw into that axes instead);
:class:`NothingToPlot` when the rows hold nothing for it.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import StudyError

__all__ = ["best_bounds", "win_loss", "speedup_vs_gpus", "gap_vs_size", "time_to_proof", "plot_win_loss",
           "NothingToPlot", "STANDARD", "PROBLEM_KEY"]

#: Columns that identify a problem (a graph on a platform under a cost model).
PROBLEM_KEY = ("graph_hash", "gpus", "streams", "bandwidth_gbps", "latency_us", "alpha")

#: A relative difference of makespans below this is a tie in :func:`win_loss`.
TIE_TOLERANCE = 1e-9


class NothingToPlot(StudyError):
    """The rows hold nothing that this figure shows (no exact solver, one GPU count ...)."""


def _pyplot() -> Any:
    from ..viz import _pyplot as pyplot

    return pyplot()


def _ok(df: Any) -> Any:
    if "status" not in df:
        raise NothingToPlot("no rows")
    rows = df[df.status != "error"]
    if rows.empty:
        raise NothingToPlot("no rows without errors")
    return rows


def _key(df: Any) -> list[str]:
    return [c for c in PROBLEM_KEY + ("link_matrix",) if c in df.columns]


def _label(df: Any) -> Any:
    return df["variant"] if "variant" in df.columns else df["algorithm"]


def best_bounds(df: Any) -> Any:
    """``df`` with ``best_bound_ms`` (largest lower bound of the row's
    problem), ``best_makespan_ms`` (shortest makespan of any row of it) and
    ``gap_best`` (the row's gap to ``best_bound_ms``) added; error rows
    get NaN."""
    from ..results import gap

    out = df.copy()
    rows = df[df.status != "error"] if "status" in df else df
    key = _key(df)
    bounds = rows.groupby(key, dropna=False).agg(best_bound_ms=("lower_bound_ms", "max"),
                                                 best_makespan_ms=("makespan_ms", "min")).reset_index()
    out = out.drop(columns=[c for c in ("best_bound_ms", "best_makespan_ms", "gap_best") if c in out])
    out = out.merge(bounds, on=key, how="left")
    out["gap_best"] = [gap(m, b) for m, b in zip(out.makespan_ms, out.best_bound_ms)]
    out.loc[out.status == "error", ["best_bound_ms", "best_makespan_ms", "gap_best"]] = math.nan
    out.attrs.update(df.attrs)
    return out


def win_loss(df: Any, *, heuristics_only: bool = True) -> Any:
    """A square DataFrame: ``m.loc[a, b]`` is the number of problems where
    algorithm ``a`` (its ``variant``) found a shorter schedule than ``b``
    (relative tolerance :data:`TIE_TOLERANCE`); problems where one of them
    has no row do not count. Repeats of a cell count once (their mean)."""
    import pandas as pd

    rows = _ok(df)
    if heuristics_only:
        rows = rows[rows.status == "heuristic"]
    if rows.empty:
        raise NothingToPlot("no heuristic rows")
    rows = rows.assign(_label=_label(rows))
    wide = rows.pivot_table(index=_key(rows), columns="_label", values="makespan_ms", aggfunc="mean")
    names = list(wide.columns)
    matrix = pd.DataFrame(0, index=names, columns=names, dtype=int)
    for a in names:
        for b in names:
            if a != b:
                both = wide[[a, b]].dropna()
                matrix.loc[a, b] = int((both[a] < both[b] * (1 - TIE_TOLERANCE)).sum())
    matrix.index.name, matrix.columns.name = "wins", "against"
    return matrix


def speedup_vs_gpus(df: Any, *, ax: Any = None) -> Any:
    """Mean speedup over the sequential schedule against GPUs, per algorithm
    (one panel per stream count)."""
    rows = _ok(df).dropna(subset=["speedup"])
    if rows.empty or rows.gpus.nunique() < 2:
        raise NothingToPlot("speedup vs GPUs needs rows on at least two GPU counts")
    rows = rows.assign(_label=_label(rows))
    streams = sorted(rows.streams.unique())
    plt = _pyplot()
    if ax is None:
        fig, axes = plt.subplots(1, len(streams), figsize=(4.5 * len(streams) + 1, 4), squeeze=False, sharey=True)
        axes = list(axes[0])
    else:
        fig, axes = ax.figure, [ax] * len(streams)
    for axis, s in zip(axes, streams):
        part = rows[rows.streams == s]
        mean = part.groupby(["_label", "gpus"]).speedup.mean().reset_index()
        for label, line in mean.groupby("_label"):
            axis.plot(line.gpus, line.speedup, marker="o", label=str(label))
        axis.set_xticks(sorted(int(k) for k in part.gpus.unique()))
        axis.set_xlabel("GPUs")
        axis.set_title(f"{s} stream{'s' if s > 1 else ''} per GPU")
        axis.grid(True, alpha=0.3)
    axes[0].set_ylabel("speedup over sequential (mean)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def gap_vs_size(df: Any, *, ax: Any = None) -> Any:
    """Mean gap to the best proven bound (:func:`best_bounds`) against ops, per algorithm."""
    rows = best_bounds(_ok(df)).dropna(subset=["gap_best"])
    if rows.empty or rows.ops.nunique() < 2:
        raise NothingToPlot("gap vs size needs rows on at least two graph sizes")
    rows = rows.assign(_label=_label(rows))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5)) if ax is None else (ax.figure, ax)
    mean = rows.groupby(["_label", "ops"]).gap_best.mean().reset_index()
    for label, line in mean.groupby("_label"):
        ax.plot(line.ops, 100 * line.gap_best, marker="o", label=str(label))
    if rows.ops.max() > 10 * rows.ops.min():
        ax.set_xscale("log")
    ax.set_xlabel("ops")
    ax.set_ylabel("gap to the best bound (%, mean)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def time_to_proof(df: Any, *, ax: Any = None) -> Any:
    """Share of each exact solver's cells proven optimal within t seconds."""
    rows = _ok(df)
    rows = rows[rows.algorithm.astype(str).str.startswith("exact-")]
    if rows.empty:
        raise NothingToPlot("no exact solver rows")
    rows = rows.assign(_label=_label(rows))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5)) if ax is None else (ax.figure, ax)
    for label, part in rows.groupby("_label"):
        times = sorted(part[part.status == "optimal"].time_s)
        if times:
            shares = [(i + 1) / len(part) for i in range(len(times))]
            ax.step([times[0]] + times, [0.0] + shares, where="post",
                    label=f"{label} ({len(times)}/{len(part)} proven)")
        else:
            ax.plot([], [], label=f"{label} (0/{len(part)} proven)")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("share of cells proven optimal")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_win_loss(df: Any, *, ax: Any = None) -> Any:
    """The heuristic win/loss matrix as a heatmap: row a, column b counts
    the problems where a beat b."""
    matrix = win_loss(df)
    if len(matrix) < 2:
        raise NothingToPlot("a win/loss matrix needs at least two heuristics")
    plt = _pyplot()
    size = 1.0 + 0.8 * len(matrix)
    fig, ax = plt.subplots(figsize=(size + 1.5, size)) if ax is None else (ax.figure, ax)
    image = ax.imshow(matrix.values, cmap="Greens")
    ax.set_xticks(range(len(matrix)), [str(c) for c in matrix.columns], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix)), [str(i) for i in matrix.index], fontsize=8)
    for i in range(len(matrix)):
        for j in range(len(matrix)):
            if i != j:
                ax.text(j, i, str(matrix.iat[i, j]), ha="center", va="center", fontsize=8)
    ax.set_xlabel("against")
    ax.set_ylabel("wins")
    ax.set_title("problems where the row's algorithm beat the column's")
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


#: The standard figures by name (``hios-opt study plot`` draws each that the rows allow).
STANDARD = {"speedup_vs_gpus": speedup_vs_gpus, "gap_vs_size": gap_vs_size, "time_to_proof": time_to_proof,
            "win_loss": plot_win_loss}
