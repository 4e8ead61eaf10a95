import json

import pytest

from hios_opt import Schedule, Stage
from hios_opt.errors import FormatError, MissingFieldError


def test_round_trip_with_exact_fields(tmp_path):
    s = Schedule([Stage(0, ("a",)), Stage(1, ("b", "c"))], gpus=2, streams=2, algorithm="cpsat",
                 graph_name="g", makespan_ms=3.5, status="optimal", lower_bound_ms=3.5, gap=0.0,
                 meta={"wall_time_s": 0.1})
    path = tmp_path / "s.json"
    s.save(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "hios-opt/schedule" and doc["status"] == "optimal"
    assert Schedule.load(path) == s


def test_helpers():
    s = Schedule.from_gpu_lists([["a", ["b", "c"]], ["d"]], streams=2)
    assert s.placement == {"a": 0, "b": 0, "c": 0, "d": 1}
    assert s.stream_of("c") == 1 and s.gpu_of("d") == 1
    assert [st.ops for st in s.gpu_stages(0)] == [("a",), ("b", "c")]
    assert "stages=3" in repr(s)


@pytest.mark.parametrize(
    "mutate, error, culprit",
    [
        (lambda d: d.update(format="hios-opt/graph"), FormatError, "format"),
        (lambda d: d.pop("stages"), MissingFieldError, "stages"),
        (lambda d: d["stages"][0].update(gpu="0"), FormatError, "gpu"),
        (lambda d: d["stages"][0].update(ops=[]), FormatError, "stage #0"),
        (lambda d: d["stages"][1].update(ops=[1]), FormatError, "stage #1"),
        (lambda d: d.update(makespan_ms="fast"), FormatError, "makespan_ms"),
        (lambda d: d.update(extra=1), FormatError, "extra"),
    ],
)
def test_invalid_schedule_json(mutate, error, culprit):
    doc = Schedule.from_gpu_lists([["a"], ["b"]]).to_dict()
    mutate(doc)
    with pytest.raises(error, match=culprit):
        Schedule.from_dict(doc)
