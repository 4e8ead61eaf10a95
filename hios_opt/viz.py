"""Pictures: Gantt charts of timelines and drawings of operator graphs.

matplotlib is imported on first use, with the non-interactive ``Agg``
backend when no backend was chosen, so these functions work without a screen.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import OptionError
from .evaluate import Timeline
from .graph import OpGraph

__all__ = ["gantt", "gantt_grid", "draw_graph", "save_figure", "check_figure_path", "FIGURE_FORMATS"]


def _pyplot() -> Any:
    import matplotlib

    if "matplotlib.pyplot" not in __import__("sys").modules:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


_BAR_LABEL: Any = None


def _bar_label_class() -> Any:
    """A text that is drawn only where it fits inside its bar, measured at
    draw time, so that a chart of a hundred ops does not print its names on
    top of each other, and zooming in (in a notebook) shows the names that
    now fit."""
    global _BAR_LABEL
    if _BAR_LABEL is None:
        from matplotlib.text import Text

        class BarLabel(Text):
            def __init__(self, bar: Any, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.bar = bar
                #: whether the last draw showed the label (None before any draw)
                self.shown: bool | None = None

            def draw(self, renderer: Any) -> None:
                if renderer is None or not self.get_visible():
                    return
                room = self.bar.get_window_extent(renderer).width
                self.shown = bool(self.get_window_extent(renderer).width <= room)
                if self.shown:
                    super().draw(renderer)

        _BAR_LABEL = BarLabel
    return _BAR_LABEL


def _color(op_id: str, index: int) -> Any:
    plt = _pyplot()
    cmap = plt.get_cmap("tab20")
    return cmap(index % 20)


def gantt(
    timeline: Timeline,
    ax: Any = None,
    *,
    title: str | None = None,
    show_transfers: bool = True,
    labels: bool = True,
) -> Any:
    """Draw a Gantt chart: one row per (GPU, stream), one bar per op.

    A bar spans the op's own latency from its stage's start; the hatched tail
    up to the stage end is the slow-down that sharing the GPU costs. Arrows
    show cross-GPU transfers (from the producer's end to the time the data is
    ready on the consumer's GPU).

    With ``labels``, a bar shows its op's id where the id fits inside the
    bar at the size the chart is drawn (and zoomed) at; the ids of narrower
    bars are left out rather than printed over their neighbours.

    Returns the matplotlib ``Axes``.

    Examples
    --------
    >>> import hios_opt as ho
    >>> from hios_opt.viz import gantt
    >>> g = ho.generators.diamond()
    >>> tl = ho.evaluate(g, ho.Platform(), ho.Schedule.sequential(g.topological_order()))
    >>> ax = gantt(tl)
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 1.0 + 0.45 * timeline.platform.gpus * timeline.platform.streams))
    platform = timeline.platform
    rows = [(g, s) for g in range(platform.gpus) for s in range(platform.streams)]
    row_of = {key: k for k, key in enumerate(rows)}
    graph = timeline.graph
    for st in timeline.stages:
        for stream, op_id in enumerate(st.ops):
            y = row_of[(st.gpu, stream)]
            index = graph.index(op_id)
            solo = graph.latency[index]
            color = _color(op_id, index)
            bar = ax.barh(y, solo, left=st.start, height=0.8, color=color, edgecolor="black", linewidth=0.5)[0]
            tail = st.end - st.start - solo
            if tail > 1e-9:
                ax.barh(y, tail, left=st.start + solo, height=0.8, color=color, alpha=0.35,
                        hatch="//", edgecolor="grey", linewidth=0.3)
            if labels:
                label = _bar_label_class()(bar, st.start + max(solo, 1e-12) / 2, y, op_id, ha="center",
                                           va="center", fontsize=7, clip_on=True)
                ax.add_artist(label)
    if show_transfers:
        for tr in timeline.transfers:
            y0 = row_of[(tr.src_gpu, timeline.op_stream[tr.src])]
            y1 = row_of[(tr.dst_gpu, timeline.op_stream[tr.dst])]
            ax.annotate("", xy=(tr.end, y1), xytext=(tr.start, y0),
                        arrowprops={"arrowstyle": "->", "color": "crimson", "lw": 0.8, "alpha": 0.7})
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"GPU{g} s{s}" for g, s in rows])
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.axvline(timeline.makespan, color="black", linestyle="--", linewidth=0.8)
    algo = timeline.schedule.algorithm
    ax.set_title(title or f"{graph.name}: {algo}, makespan {timeline.makespan:.4g} ms")
    ax.set_xlim(0, timeline.makespan * 1.02 if timeline.makespan > 0 else 1)
    return ax


def gantt_grid(timelines: Sequence[Timeline], titles: Sequence[str] | None = None, *, path: str | os.PathLike[str] | None = None) -> Any:
    """Several Gantt charts stacked on one shared time axis (e.g. HIOS-LP
    against the exact optimum). Saves to ``path`` when given; returns the figure."""
    if not timelines:
        raise OptionError("gantt_grid needs at least one timeline")
    plt = _pyplot()
    heights = [0.6 + 0.4 * t.platform.gpus * t.platform.streams for t in timelines]
    fig, axes = plt.subplots(len(timelines), 1, figsize=(11, sum(heights) + 1.0), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for k, (tl, ax) in enumerate(zip(timelines, axes[:, 0])):
        gantt(tl, ax, title=titles[k] if titles else None)
    end = max(t.makespan for t in timelines)
    axes[0, 0].set_xlim(0, end * 1.02 if end > 0 else 1)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def draw_graph(graph: OpGraph, ax: Any = None, *, timeline: Timeline | None = None, labels: bool = True) -> Any:
    """Draw the DAG in layers (topological generations); with a timeline,
    colour ops by GPU."""
    import networkx as nx

    plt = _pyplot()
    g = graph.to_networkx()
    for layer, nodes in enumerate(nx.topological_generations(g)):
        for node in nodes:
            g.nodes[node]["layer"] = layer
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal")
    pos = {k: (x, -y) for k, (x, y) in pos.items()}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 6))
    if timeline is not None:
        cmap = plt.get_cmap("tab10")
        colors = [cmap(timeline.op_gpu[node] % 10) for node in g.nodes]
    else:
        colors = "lightsteelblue"
    nx.draw_networkx(g, pos, ax=ax, node_color=colors, with_labels=labels and graph.n_ops <= 80,
                     node_size=300 if graph.n_ops <= 80 else 30, font_size=7, arrowsize=8)
    ax.set_title(graph.name)
    ax.axis("off")
    return ax


FIGURE_FORMATS = ("png", "svg", "pdf")


def check_figure_path(path: str | os.PathLike[str]) -> str:
    """The picture format a file name asks for; raises :class:`OptionError`
    for any other suffix (so a command can refuse before it writes anything)."""
    fmt = Path(path).suffix.lstrip(".").lower()
    if fmt not in FIGURE_FORMATS:
        raise OptionError(f"cannot write a picture to {str(path)!r}: use a .png, .svg or .pdf file name")
    return fmt


def save_figure(fig_or_ax: Any, path: str | os.PathLike[str]) -> Path:
    """Save a figure (PNG, SVG or PDF by suffix) atomically, then close it."""
    import io

    from ._io import write_bytes_atomic

    path = Path(path)
    fmt = check_figure_path(path)
    fig = fig_or_ax.figure if hasattr(fig_or_ax, "figure") and not hasattr(fig_or_ax, "savefig") else fig_or_ax
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return write_bytes_atomic(path, buf.getvalue())
