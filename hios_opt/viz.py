"""Pictures: Gantt charts of schedules and drawings of operator graphs.

:func:`gantt` draws one schedule with matplotlib (one lane per (GPU, stream)
used, one bar per op coloured by kind, the makespan and any proven bound in
the title); :func:`gantt_grid` stacks several on one time axis;
:func:`gantt_html` makes an interactive chart for notebooks and browsers
(no extra package, readable at hundreds of ops); :func:`draw_graph` draws
the DAG in layers. Every Gantt function takes a
:class:`~hios_opt.evaluate.Timeline`, or a
:class:`~hios_opt.schedules.Schedule` or
:class:`~hios_opt.exact.SolveResult` with its ``graph``. A chart's size
depends on the lanes and ops a schedule uses, never on the platform's size
(figures are capped at :data:`MAX_FIGURE_HEIGHT_IN` inches). matplotlib is
imported on first use, with the ``Agg`` backend when none was chosen.
"""

from __future__ import annotations

import html
import io
import math
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._io import write_bytes_atomic
from .costs import StageModel
from .errors import OptionError
from .evaluate import Timeline, evaluate
from .graph import OpGraph
from .platform import Platform
from .schedules import Schedule

if TYPE_CHECKING:  # the exact solvers are not loaded to draw a chart
    from .exact import SolveResult

__all__ = ["gantt", "gantt_grid", "gantt_html", "GanttHTML", "draw_graph", "save_figure", "figure_bytes",
           "gantt_bytes", "check_figure_path", "op_family", "FIGURE_FORMATS", "GANTT_FORMATS",
           "MAX_FIGURE_HEIGHT_IN"]

#: Picture formats of :func:`save_figure`; :func:`gantt_bytes` also writes ``html``.
FIGURE_FORMATS = ("png", "svg", "pdf")
GANTT_FORMATS = (*FIGURE_FORMATS, "html")
#: Tallest figure drawn (inches); lanes get thinner beyond it.
MAX_FIGURE_HEIGHT_IN = 24.0
#: Above this many transfers, arrows become plain lines (one collection, fast to draw).
MAX_ARROWS = 400
#: Above this many ops, bars carry no id labels (hover in :func:`gantt_html` instead).
MAX_LABELS = 2000
#: Kind families shown in a legend; the rest are grouped as "other".
MAX_LEGEND_KINDS = 8

_ROW_IN = 0.32  # inches per lane
_HATCH_LABEL = "slow-down from sharing the GPU (stage end)"
_ARROW_LABEL = "transfer between GPUs (producer end to data ready)"


def _pyplot() -> Any:
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
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


# Families of op kinds, by the first part of a traced kind ("Conv2d+BatchNorm2d+ReLU" -> conv).
_FAMILIES = (
    ("conv", ("conv",)),
    ("pool", ("pool",)),
    ("concat", ("cat", "concat")),
    ("elementwise", ("add", "mul", "sub", "div")),
    ("linear", ("linear", "matmul", "fc", "gemm", "addmm")),
    ("norm", ("norm",)),
    ("activation", ("relu", "sigmoid", "tanh", "gelu", "softmax", "hardswish", "silu")),
    ("pad", ("pad",)),
)
_FAMILY_COLORS = {"conv": "#4C78A8", "pool": "#F58518", "concat": "#54A24B", "elementwise": "#B279A2",
                  "linear": "#E45756", "norm": "#72B7B2", "activation": "#EECA3B", "pad": "#9D755D",
                  "other": "#BAB0AC"}


def op_family(kind: str | None) -> str:
    """The colour family of an op kind: ``conv``, ``pool``, ``concat``,
    ``elementwise``, ``linear``, ``norm``, ``activation``, ``pad`` or
    ``other``.

    >>> op_family("Conv2d+BatchNorm2d+ReLU"), op_family("cat"), op_family("AdaptiveAvgPool2d"), op_family(None)
    ('conv', 'concat', 'pool', 'other')
    """
    if not kind:
        return "other"
    head = kind.split("+")[0].strip().lower()
    for family, keys in _FAMILIES:
        if any(key in head for key in keys):
            return family
    return "other"


def _depths(graph: OpGraph) -> list[int]:
    depth = [0] * graph.n_ops
    for v in graph.topo:
        for u in graph.pred[v]:
            depth[v] = max(depth[v], depth[u] + 1)
    return depth


def _as_timeline(obj: Any, graph: OpGraph | None, platform: Platform | None,
                 cost_model: StageModel | None, what: str = "gantt") -> Timeline:
    """A Timeline from a Timeline, a Schedule or a SolveResult (with its graph)."""
    if isinstance(obj, Timeline):
        return obj
    schedule = getattr(obj, "schedule", None) if not hasattr(obj, "stages") else obj
    if schedule is None or not hasattr(schedule, "stages"):
        raise OptionError(f"{what} draws a Timeline (hios_opt.evaluate(graph, platform, schedule)), a Schedule or a "
                          f"SolveResult, not {type(obj).__name__}")
    if graph is None:
        raise OptionError(f"{what} needs the graph to draw a {type(obj).__name__}: {what}(schedule, graph=graph) "
                          f"(platform defaults to the schedule's GPUs and streams), or {what}(hios_opt.evaluate("
                          "graph, platform, schedule))")
    if platform is None:
        platform = Platform(gpus=schedule.gpus, streams=schedule.streams)
    return evaluate(graph, platform, schedule, cost_model)


def _lanes(timeline: Timeline) -> list[tuple[int, int]]:
    """The (GPU, stream) lanes the schedule uses, in order."""
    return sorted({(st.gpu, k) for st in timeline.stages for k in range(len(st.ops))})


def _default_title(timeline: Timeline) -> str:
    sched = timeline.schedule
    text = f"{timeline.graph.name}: {sched.algorithm or 'schedule'}, makespan {timeline.makespan:.4g} ms"
    bound = getattr(sched, "lower_bound_ms", None)
    if bound is not None and bound > 0:
        gap = max(0.0, (timeline.makespan - bound) / bound)
        status = getattr(sched, "status", None)
        text += f", bound {bound:.4g} ms (gap {gap:.2%}{', ' + status if status else ''})"
    return text


def _colors(timeline: Timeline, color_by: str) -> tuple[dict[str, Any], list[tuple[str, Any]], str]:
    """Colour of every op, legend entries, and the legend's title."""
    graph = timeline.graph
    if color_by == "auto":
        color_by = "kind" if any(op.kind for op in graph.ops) else "depth"
    if color_by == "kind":
        family = {op.id: op_family(op.kind) for op in graph.ops}
        counts = Counter(family.values())
        shown = [f for f, _ in counts.most_common() if f != "other"][:MAX_LEGEND_KINDS]
        if "other" in counts or len(shown) < len([f for f in counts if f != "other"]):
            shown.append("other")
        colors = {op: _FAMILY_COLORS[f if f in shown else "other"] for op, f in family.items()}
        return colors, [(f, _FAMILY_COLORS[f]) for f in shown], "op kind"
    if color_by == "depth":
        plt = _pyplot()
        depth = _depths(graph)
        top = max(depth) or 1
        cmap = plt.get_cmap("viridis")
        colors = {graph.ids[v]: cmap(0.15 + 0.8 * depth[v] / top) for v in range(graph.n_ops)}
        return colors, [("first ops", cmap(0.15)), ("last ops", cmap(0.95))], "depth in the graph"
    if color_by == "gpu":
        plt = _pyplot()
        cmap = plt.get_cmap("tab10")
        gpus = sorted({st.gpu for st in timeline.stages})
        colors = {op: cmap(gpus.index(st.gpu) % 10) for st in timeline.stages for op in st.ops}
        return colors, [(f"GPU {g}", cmap(k % 10)) for k, g in enumerate(gpus[:10])], "GPU"
    raise OptionError(f"color_by must be 'auto', 'kind', 'depth' or 'gpu', got {color_by!r:.40}")


def gantt(
    timeline: Timeline | Schedule | SolveResult,
    ax: Any = None,
    *,
    graph: OpGraph | None = None,
    platform: Platform | None = None,
    cost_model: StageModel | None = None,
    title: str | None = None,
    show_transfers: bool = True,
    labels: bool = True,
    color_by: str = "auto",
    legend: bool = True,
) -> Any:
    """Draw a Gantt chart: one lane per (GPU, stream) used, one bar per op.

    A bar spans the op's own latency from its stage's start; the hatched tail
    up to the stage end is the slow-down that sharing the GPU costs. Arrows
    show cross-GPU transfers (from the producer's end to the time the data is
    ready on the consumer's GPU); the dashed line is the makespan. The legend
    says all of this.

    Parameters
    ----------
    timeline : Timeline, Schedule or SolveResult
        What to draw. A Schedule or SolveResult needs ``graph``.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure sized to the lanes).
    graph, platform, cost_model
        For a Schedule or SolveResult: the problem to evaluate it on
        (platform default: the schedule's GPUs and streams).
    title : str, optional
        Default: graph, algorithm, makespan and, when the schedule carries
        one (a solver's), the proven bound, gap and status.
    show_transfers : bool
        Draw the transfers between GPUs.
    labels : bool
        Write an op's id on its bar where it fits at the size drawn (zooming
        in shows more); none above :data:`MAX_LABELS` ops.
    color_by : {"auto", "kind", "depth", "gpu"}
        ``"kind"``: the op kind's family (:func:`op_family`); ``"depth"``: the
        op's depth in the graph; ``"auto"``: kind when ops have kinds.
    legend : bool
        Draw the legend (outside the plot, on the right).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    OptionError
        A Schedule without its graph, or an unknown ``color_by``.

    Examples
    --------
    >>> import hios_opt as ho
    >>> from hios_opt.viz import gantt
    >>> g = ho.generators.diamond()
    >>> s = ho.schedule(g, ho.Platform(), "sequential")
    >>> ax = gantt(s, graph=g)
    >>> ax.get_title()
    'diamond: sequential, makespan 7 ms'
    >>> gantt(s)
    Traceback (most recent call last):
    ...
    hios_opt.errors.OptionError: gantt needs the graph to draw a Schedule: gantt(schedule, graph=graph) (platform defaults to the schedule's GPUs and streams), or gantt(hios_opt.evaluate(graph, platform, schedule))
    """
    timeline = _as_timeline(timeline, graph, platform, cost_model)
    plt = _pyplot()
    lanes = _lanes(timeline)
    if ax is None:
        height = min(MAX_FIGURE_HEIGHT_IN, 1.4 + _ROW_IN * max(len(lanes), 1))
        _, ax = plt.subplots(figsize=(11, height))
    lane_of = {lane: k for k, lane in enumerate(lanes)}
    graph = timeline.graph
    colors, kinds, legend_title = _colors(timeline, color_by)
    ys, widths, lefts, fills, ids = [], [], [], [], []
    tails: list[tuple[int, float, float, Any]] = []
    for st in timeline.stages:
        for stream, op_id in enumerate(st.ops):
            solo = graph.latency[graph.index(op_id)]
            y = lane_of[(st.gpu, stream)]
            ys.append(y)
            widths.append(solo)
            lefts.append(st.start)
            fills.append(colors[op_id])
            ids.append(op_id)
            tail = st.end - st.start - solo
            if tail > 1e-9:
                tails.append((y, st.start + solo, tail, colors[op_id]))
    thin = len(lanes) > 80
    edge = {"edgecolor": "black", "linewidth": 0.0 if thin else 0.5}
    bars = ax.barh(ys, widths, left=lefts, height=0.8, color=fills, **edge)
    if tails:
        ax.barh([t[0] for t in tails], [t[2] for t in tails], left=[t[1] for t in tails], height=0.8,
                color=[t[3] for t in tails], alpha=0.35, hatch="//", edgecolor="grey", linewidth=0.3)
    if labels and len(ids) <= MAX_LABELS:
        label_class = _bar_label_class()
        for bar, op_id, left, width, y in zip(bars, ids, lefts, widths, ys):
            ax.add_artist(label_class(bar, left + max(width, 1e-12) / 2, y, op_id, ha="center", va="center",
                                      fontsize=7, clip_on=True))
    transfers = list(timeline.transfers) if show_transfers else []
    if transfers:
        stream_of = timeline.op_stream
        segments = [((tr.start, lane_of[(tr.src_gpu, stream_of[tr.src])]),
                     (tr.end, lane_of[(tr.dst_gpu, stream_of[tr.dst])])) for tr in transfers]
        if len(segments) <= MAX_ARROWS:
            for (x0, y0), (x1, y1) in segments:
                ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                            arrowprops={"arrowstyle": "->", "color": "crimson", "lw": 0.8, "alpha": 0.7})
        else:
            from matplotlib.collections import LineCollection

            ax.add_collection(LineCollection(segments, colors="crimson", linewidths=0.5, alpha=0.4))
    step = max(1, math.ceil(len(lanes) / 60))
    ax.set_yticks(range(0, len(lanes), step))
    ax.set_yticklabels([f"GPU{g} s{s}" for g, s in lanes[::step]], fontsize=8 if len(lanes) > 16 else None)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_xlabel("time (ms)")
    ax.axvline(timeline.makespan, color="black", linestyle="--", linewidth=0.8)
    ax.set_title(title or _default_title(timeline))
    ax.set_xlim(0, timeline.makespan * 1.02 if timeline.makespan > 0 else 1)
    if legend:
        _legend(ax, kinds, legend_title, bool(tails), bool(transfers))
    return ax


def _legend(ax: Any, kinds: list[tuple[str, Any]], title: str, hatch: bool, arrows: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(facecolor=color, edgecolor="black", linewidth=0.5, label=name) for name, color in kinds]
    if hatch:
        handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//", label=_HATCH_LABEL))
    if arrows:
        handles.append(Line2D([0], [0], color="crimson", lw=1, marker=">", markersize=5, label=_ARROW_LABEL))
    handles.append(Line2D([0], [0], color="black", linestyle="--", lw=0.8, label="makespan"))
    ax.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7,
              title_fontsize=8, frameon=False)


def gantt_grid(timelines: Sequence[Any], titles: Sequence[str] | None = None, *,
               path: str | os.PathLike[str] | None = None, graph: OpGraph | None = None,
               platform: Platform | None = None) -> Any:
    """Several Gantt charts stacked on one shared time axis (e.g. HIOS-LP
    against the exact optimum), one legend. Items are Timelines, or
    Schedules / SolveResults of ``graph``. Saves to ``path`` when given;
    returns the figure."""
    if not timelines:
        raise OptionError("gantt_grid needs at least one timeline")
    timelines = [_as_timeline(t, graph, platform, None, "gantt_grid") for t in timelines]
    if titles is not None and len(titles) != len(timelines):
        raise OptionError(f"gantt_grid got {len(timelines)} timelines but {len(titles)} titles")
    plt = _pyplot()
    lanes = [max(len(_lanes(t)), 1) for t in timelines]
    scale = min(1.0, (MAX_FIGURE_HEIGHT_IN - 1.0 - 0.9 * len(timelines)) / (_ROW_IN * sum(lanes)))
    heights = [0.9 + _ROW_IN * scale * n for n in lanes]
    fig, axes = plt.subplots(len(timelines), 1, figsize=(12, sum(heights) + 0.6), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for k, (tl, ax) in enumerate(zip(timelines, axes[:, 0])):
        gantt(tl, ax, title=titles[k] if titles else None, legend=k == 0)
    end = max(t.makespan for t in timelines)
    axes[0, 0].set_xlim(0, end * 1.02 if end > 0 else 1)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


class GanttHTML:
    """An interactive Gantt chart: an SVG in HTML, shown by notebooks
    (``_repr_html_``) and browsers; hovering a bar shows its op, kind, GPU,
    stream, start and end. Made by :func:`gantt_html`.

    Attributes
    ----------
    html : str
        The chart, a self-contained HTML fragment (no script, no download).
    """

    def __init__(self, html_text: str, title: str) -> None:
        self.html = html_text
        self.title = title

    def __repr__(self) -> str:
        return f"GanttHTML({self.title!r}, {len(self.html)} characters)"

    def _repr_html_(self) -> str:
        return self.html

    def page(self) -> str:
        """A complete HTML page holding the chart."""
        return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(self.title)}</title>"
                f"</head><body>\n{self.html}\n</body></html>\n")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`page` to ``path`` atomically."""

        return write_bytes_atomic(path, self.page().encode("utf-8"))


def _css_color(color: Any) -> str:
    if isinstance(color, str):
        return color
    r, g, b = (round(255 * c) for c in color[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def gantt_html(
    timeline: Timeline | Schedule | SolveResult,
    *,
    graph: OpGraph | None = None,
    platform: Platform | None = None,
    cost_model: StageModel | None = None,
    title: str | None = None,
    width: int = 1100,
    color_by: str = "auto",
) -> GanttHTML:
    """An interactive Gantt chart (:class:`GanttHTML`): the same lanes,
    colours and legend as :func:`gantt`, as an SVG whose bars show their op,
    kind, GPU, stream, start, end and stage end on hover.

    Parameters
    ----------
    timeline : Timeline, Schedule or SolveResult
        What to draw; a Schedule or SolveResult needs ``graph``.
    graph, platform, cost_model
        As for :func:`gantt`.
    title : str, optional
        Default: as :func:`gantt`'s.
    width : int
        Width in pixels; a schedule whose busiest lane holds many ops gets
        8 px per op (up to 8,000) and scrolls sideways.
    color_by : {"auto", "kind", "depth", "gpu"}
        As for :func:`gantt`.

    Returns
    -------
    GanttHTML
        Shown by notebooks; ``.save("chart.html")`` writes a page.

    Examples
    --------
    >>> import hios_opt as ho
    >>> g = ho.generators.inception_block()
    >>> chart = gantt_html(ho.schedule(g, ho.Platform(gpus=2, streams=2), "hios-lp"), graph=g)
    >>> chart.html.count("<rect class=\\"op\\"")
    9
    """
    timeline = _as_timeline(timeline, graph, platform, cost_model, "gantt_html")
    graph = timeline.graph
    lanes = _lanes(timeline)
    lane_of = {lane: k for k, lane in enumerate(lanes)}
    colors, kinds, legend_title = _colors(timeline, color_by)
    row = 18 if len(lanes) <= 64 else max(4, 1152 // len(lanes))
    busiest = max(Counter((st.gpu, k) for st in timeline.stages for k in range(len(st.ops))).values(), default=1)
    width = min(8000, max(width, 8 * busiest))  # wide schedules scroll sideways instead of blurring
    left, top = 80, 8
    plot_w = max(200, width - left - 20)
    span = timeline.makespan * 1.02 if timeline.makespan > 0 else 1.0
    height = top + row * max(len(lanes), 1) + 30

    def x(t: float) -> float:
        return left + plot_w * t / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" style="font: 10px sans-serif">',
             "<style>.op:hover{stroke:#000;stroke-width:2}.tr:hover{stroke-width:3}</style>"]
    step = max(1, math.ceil(len(lanes) / 60))
    for k, (g, s) in enumerate(lanes):
        y = top + row * k
        if k % 2 == 0:
            parts.append(f'<rect x="{left}" y="{y}" width="{plot_w}" height="{row}" fill="#f4f4f4"/>')
        if k % step == 0:
            parts.append(f'<text x="{left - 4}" y="{y + row * 0.7:.1f}" text-anchor="end">GPU{g} s{s}</text>')
    kind = {op.id: op.kind or "-" for op in graph.ops}
    for st in timeline.stages:
        for stream, op_id in enumerate(st.ops):
            solo = graph.latency[graph.index(op_id)]
            y = top + row * lane_of[(st.gpu, stream)] + 1
            tip = html.escape(f"{op_id} ({kind[op_id]})\nGPU {st.gpu}, stream {stream}\n"
                              f"start {st.start:.6g} ms, end {st.start + solo:.6g} ms (alone: {solo:.6g} ms)\n"
                              f"stage end {st.end:.6g} ms")
            color = _css_color(colors[op_id])
            w = max(x(st.start + solo) - x(st.start), 0.5)
            parts.append(f'<rect class="op" x="{x(st.start):.2f}" y="{y}" width="{w:.2f}" height="{row - 2}" '
                         f'fill="{color}" stroke="#fff" stroke-width="0.4"><title>{tip}</title></rect>')
            tail = x(st.end) - x(st.start + solo)
            if tail > 0.5:
                parts.append(f'<rect x="{x(st.start + solo):.2f}" y="{y}" width="{tail:.2f}" height="{row - 2}" '
                             f'fill="{color}" fill-opacity="0.3"><title>{tip}\n(slow-down from sharing the GPU)'
                             "</title></rect>")
    stream_of = timeline.op_stream
    opacity = 0.6 if len(timeline.transfers) <= MAX_ARROWS else 0.3
    for tr in timeline.transfers:
        y0 = top + row * (lane_of[(tr.src_gpu, stream_of[tr.src])] + 0.5)
        y1 = top + row * (lane_of[(tr.dst_gpu, stream_of[tr.dst])] + 0.5)
        tip = html.escape(f"transfer {tr.src} -> {tr.dst}: GPU {tr.src_gpu} -> GPU {tr.dst_gpu}, "
                          f"{tr.start:.6g} to {tr.end:.6g} ms")
        parts.append(f'<line class="tr" x1="{x(tr.start):.2f}" y1="{y0:.1f}" x2="{x(tr.end):.2f}" y2="{y1:.1f}" '
                     f'stroke="crimson" stroke-opacity="{opacity}"><title>{tip}</title></line>')
    axis_y = top + row * max(len(lanes), 1)
    parts.append(f'<line x1="{x(timeline.makespan):.2f}" y1="{top}" x2="{x(timeline.makespan):.2f}" '
                 f'y2="{axis_y}" stroke="black" stroke-dasharray="4 3"/>')
    for t in _nice_ticks(span):
        parts.append(f'<line x1="{x(t):.1f}" y1="{axis_y}" x2="{x(t):.1f}" y2="{axis_y + 4}" stroke="black"/>'
                     f'<text x="{x(t):.1f}" y="{axis_y + 14}" text-anchor="middle">{t:.6g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{axis_y + 27}" text-anchor="middle">time (ms)</text></svg>')
    title = title or _default_title(timeline)
    swatches = " ".join(f'<span style="display:inline-block;width:10px;height:10px;background:{_css_color(c)};'
                        f'margin:0 3px 0 10px"></span>{html.escape(name)}' for name, c in kinds)
    legend = (f"<div style=\"font: 11px sans-serif\"><b>{html.escape(legend_title)}:</b>{swatches}"
              "<span style=\"margin-left:14px;color:crimson\">&#8212;</span> transfer between GPUs"
              "<span style=\"margin-left:14px\">pale tail</span>: slow-down from sharing the GPU"
              "<span style=\"margin-left:14px\">- - -</span> makespan (hover a bar for its op)</div>")
    body = (f"<div class=\"hios-gantt\"><div style=\"font: bold 12px sans-serif\">{html.escape(title)}</div>"
            f"{legend}<div style=\"overflow-x:auto\">{''.join(parts)}</div></div>")
    return GanttHTML(body, title)


def _nice_ticks(span: float, count: int = 6) -> list[float]:
    """Round tick values from 0 to ``span``: steps of 1, 2 or 5 times a power of ten.

    >>> _nice_ticks(0.443)
    [0.0, 0.1, 0.2, 0.3, 0.4]
    """
    if span <= 0:
        return [0.0]
    raw = span / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [round(k * step, 12) for k in range(int(span / step + 1e-9) + 1)]


def draw_graph(graph: OpGraph, ax: Any = None, *, timeline: Timeline | None = None, labels: bool = True) -> Any:
    """Draw the DAG in layers (topological generations); with a timeline,
    colour ops by GPU."""
    import networkx as nx

    plt = _pyplot()
    g = graph.to_networkx()
    for layer, nodes in enumerate(nx.topological_generations(g)):
        for node in nodes:
            g.nodes[node]["layer"] = layer
    layout = nx.multipartite_layout(g, subset_key="layer", align="horizontal")
    pos = {k: (x, -y) for k, (x, y) in layout.items()}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 6))
    colors: list[Any] | str
    if timeline is not None:
        cmap = plt.get_cmap("tab10")
        colors = [cmap(timeline.op_gpu[node] % 10) for node in g.nodes]
    else:
        colors = "lightsteelblue"
    nx.draw_networkx(g, pos, ax=ax, node_color=colors, with_labels=labels and graph.n_ops <= 80,
                     node_size=300 if graph.n_ops <= 80 else 30, font_size=7, arrowsize=8)
    if timeline is not None:
        from matplotlib.patches import Patch

        used = sorted(set(timeline.op_gpu.values()))[:10]
        ax.legend(handles=[Patch(color=cmap(k % 10), label=f"GPU {k}") for k in used], loc="upper right",
                  fontsize=7, frameon=False)
    ax.set_title(graph.name)
    ax.axis("off")
    return ax


def check_figure_path(path: str | os.PathLike[str], formats: Sequence[str] = FIGURE_FORMATS) -> str:
    """The picture format a file name asks for; raises :class:`OptionError`
    for any other suffix (so a command can refuse before it writes anything)."""
    fmt = Path(path).suffix.lstrip(".").lower()
    if fmt not in formats:
        names = ", ".join(f".{f}" for f in formats)
        raise OptionError(f"cannot write a picture to {str(path)!r}: use a file name ending in {names}")
    return fmt


def figure_bytes(fig_or_ax: Any, fmt: str) -> bytes:
    """Render a figure (or the figure of an Axes) to PNG, SVG or PDF bytes,
    then close it."""
    fig = fig_or_ax.figure if hasattr(fig_or_ax, "figure") and not hasattr(fig_or_ax, "savefig") else fig_or_ax
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=fmt, dpi=120, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    return buf.getvalue()


def save_figure(fig_or_ax: Any, path: str | os.PathLike[str]) -> Path:
    """Save a figure (PNG, SVG or PDF by suffix) atomically, then close it."""

    fmt = check_figure_path(path)
    return write_bytes_atomic(path, figure_bytes(fig_or_ax, fmt))


def gantt_bytes(timeline: Timeline, path: str | os.PathLike[str], *, title: str | None = None) -> bytes:
    """The Gantt chart of ``timeline`` in the format ``path`` names (``.png``,
    ``.svg``, ``.pdf``, or ``.html`` for :func:`gantt_html`), rendered in
    memory: a command renders every picture before it writes any file."""
    fmt = check_figure_path(path, GANTT_FORMATS)
    if fmt == "html":
        return gantt_html(timeline, title=title).page().encode("utf-8")
    return figure_bytes(gantt(timeline, title=title), fmt)
