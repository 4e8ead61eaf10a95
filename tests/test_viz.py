from hios_opt import Op, OpGraph, Platform, Schedule, evaluate, generators
from hios_opt.viz import draw_graph, gantt, gantt_grid, save_figure


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
