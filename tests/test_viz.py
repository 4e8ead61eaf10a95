import time

import pytest

from hios_opt import Op, OpGraph, Platform, Schedule, Stage, evaluate, generators
from hios_opt import schedule as ho_schedule
from hios_opt.viz import MAX_FIGURE_HEIGHT_IN, draw_graph, gantt, gantt_grid, gantt_html, save_figure


def test_gantt_png_and_svg(tmp_path, diamond):
    tl = evaluate(diamond, Platform(gpus=2, streams=2), Schedule.from_gpu_lists([["a", "b", "d"], ["c"]], streams=2))
    ax = gantt(tl)
    # one bar per op, plus arrows for the two transfers
    assert len(ax.patches) >= 4
    assert len([t for t in ax.texts if t.get_text() in {"a", "b", "c", "d"}]) == 4
    png = save_figure(ax, tmp_path / "g.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    svg = save_figure(gantt(tl), tmp_path / "g.svg")
    assert b"<svg" in svg.read_bytes()[:500]


def test_grid_and_dag_drawing(tmp_path):
    g = generators.inception_block()
    seq = evaluate(g, Platform(), Schedule.sequential(g.topological_order()))
    fig = gantt_grid([seq, seq], ["one", "two"], path=tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000 and len(fig.axes) == 2
    ax = draw_graph(g, timeline=seq)
    save_figure(ax, tmp_path / "dag.png")
    assert (tmp_path / "dag.png").exists()


def _labels(ax):
    return {t.get_text(): t for t in ax.texts}


def test_gantt_labels_only_bars_they_fit():
    # one op 1000x shorter than the other: at full width its id cannot fit
    g = OpGraph([Op("long_op", 10.0), Op("tiny_op", 0.01)],
                           [("long_op", "tiny_op", 0.0)], name="two")
    tl = evaluate(g, Platform(), Schedule.sequential(["long_op", "tiny_op"]))
    ax = gantt(tl)
    ax.figure.canvas.draw()
    labels = _labels(ax)
    assert labels["long_op"].shown is True
    assert labels["tiny_op"].shown is False
    # zoomed in on the short op, its id fits and is drawn
    ax.set_xlim(9.999, 10.011)
    ax.figure.canvas.draw()
    assert labels["tiny_op"].shown is True


# --- legends, titles, what gantt takes ----------------------------------------
def test_gantt_has_a_legend_for_kinds_hatch_and_transfers(diamond):
    g = generators.inception_block()
    p = Platform(gpus=2, streams=2)
    ax = gantt(ho_schedule(g, p, "hios-lp"), graph=g, platform=p)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"conv", "pool", "concat", "makespan"} <= set(texts)
    assert any("sharing the GPU" in t for t in texts) and any("transfer" in t for t in texts)
    assert ax.get_legend().get_title().get_text() == "op kind"


def test_gantt_colours_by_depth_without_kinds():
    g = generators.random_layered(30, 60, 5, ccr=0.5, seed=0)
    ax = gantt(ho_schedule(g, Platform(gpus=2), "heft"), graph=g)
    assert ax.get_legend().get_title().get_text() == "depth in the graph"
    colours = {tuple(p.get_facecolor()) for p in ax.patches}
    assert len(colours) > 3


def test_gantt_of_a_solver_schedule_titles_makespan_and_bound():
    from hios_opt import solve

    g = generators.inception_block()
    p = Platform(gpus=2, streams=2)
    result = solve(g, p, "astar", time_limit=20)
    title = gantt(result, graph=g, platform=p).get_title()
    assert title == "inception-block: astar, makespan 4.45 ms, bound 4.45 ms (gap 0.00%, optimal)"


def test_gantt_of_a_schedule_names_what_to_pass(diamond):
    from hios_opt.errors import OptionError

    s = Schedule.sequential(diamond.topological_order())
    with pytest.raises(OptionError, match=r"gantt\(schedule, graph=graph\)"):
        gantt(s)
    with pytest.raises(OptionError, match="not str"):
        gantt("schedule.json")
    with pytest.raises(OptionError, match="color_by"):
        gantt(s, graph=diamond, color_by="rainbow")


# --- size follows the schedule, not the platform -------------------------------
def test_a_huge_platform_draws_only_the_used_lanes(tmp_path, diamond):
    p = Platform(gpus=4096, streams=4096)
    s = Schedule([Stage(0, ("a",)), Stage(0, ("b", "c")), Stage(2, ("d",))], gpus=4096, streams=4096)
    started = time.perf_counter()
    ax = gantt(evaluate(diamond, p, s))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["GPU0 s0", "GPU0 s1", "GPU2 s0"]
    assert ax.figure.get_size_inches()[1] < 4
    png = save_figure(ax, tmp_path / "g.png")
    assert time.perf_counter() - started < 10 and png.stat().st_size < 200_000


def test_figure_height_is_capped():
    g = generators.wide_layer(width=300)
    p = Platform(gpus=300)
    ax = gantt(ho_schedule(g, p, "heft"), graph=g, platform=p, labels=False)
    assert ax.figure.get_size_inches()[1] <= MAX_FIGURE_HEIGHT_IN
    assert len(ax.get_yticks()) <= 61


def test_cli_writes_no_output_when_the_picture_fails(tmp_path, monkeypatch, capsys):
    import hios_opt.viz as viz
    from hios_opt.cli import main
    from hios_opt.errors import OptionError

    def broken(*args, **kwargs):
        raise OptionError("cannot draw")

    monkeypatch.setattr(viz, "gantt_bytes", broken)
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    assert main(["schedule", "named:diamond", "--gpus", "2", "-o", str(out), "--gantt", str(png)]) == 2
    assert not out.exists() and not png.exists()
    assert main(["schedule", "named:diamond", "-o", str(out), "--gantt", str(tmp_path / "s.gif")]) == 2
    assert "use a file name ending in .png, .svg, .pdf, .html" in capsys.readouterr().err
    assert not out.exists()


def test_cli_huge_platform_schedule_and_gantt(tmp_path):
    from hios_opt.cli import main

    out, png = tmp_path / "s.json", tmp_path / "s.png"
    started = time.perf_counter()
    assert main(["schedule", "named:diamond", "--gpus", "4096", "--streams", "4096", "--algo", "heft",
                 "-o", str(out), "--gantt", str(png)]) == 0
    assert time.perf_counter() - started < 30
    assert out.exists() and png.read_bytes()[:4] == b"\x89PNG"


# --- the interactive chart ------------------------------------------------------
def test_gantt_html_hover_shows_op_gpu_stream_times(tmp_path):
    g = generators.inception_block()
    p = Platform(gpus=2, streams=2)
    chart = gantt_html(ho_schedule(g, p, "hios-lp"), graph=g, platform=p)
    text = chart._repr_html_()
    assert text.count('<rect class="op"') == g.n_ops
    assert "<title>b3_5x5 (conv)\nGPU " in text and "stage end" in text
    assert "transfer between GPUs" in text and "<script" not in text
    page = chart.save(tmp_path / "g.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "inception-block: hios-lp, makespan" in page


def test_gantt_html_escapes_op_ids():
    g = OpGraph([Op("<b>x&y</b>", 1.0)], [], name="a<b>")
    chart = gantt_html(Schedule.sequential(["<b>x&y</b>"]), graph=g)
    assert "<b>x&y</b>" not in chart.html and "&lt;b&gt;x&amp;y&lt;/b&gt;" in chart.html


def test_gantt_html_readable_at_700_ops():
    from hios_opt.data import load

    g = load("models/nasnet_331_h100.json")
    p = Platform(gpus=4, streams=2)
    started = time.perf_counter()
    chart = gantt_html(ho_schedule(g, p, "heft"), graph=g, platform=p)
    assert time.perf_counter() - started < 10
    assert chart.html.count('<rect class="op"') == g.n_ops > 700
