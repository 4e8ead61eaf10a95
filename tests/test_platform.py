import pytest

from hios_opt import Platform
from hios_opt.errors import HiosError, PlatformError
from hios_opt.timing import edge_delays


def test_transfer_time_arithmetic():
    p = Platform(gpus=2, bandwidth_gbps=25.0, latency_us=8.0)
    # 5 MB at 25 GB/s = 0.2 ms, plus 8 us = 0.008 ms
    assert p.transfer_ms(5_000_000, 0, 1) == pytest.approx(0.208)
    assert p.transfer_ms(5_000_000, 1, 1) == 0.0


def test_edge_comm_prefers_explicit_value(diamond):
    p = Platform(gpus=2)
    delays = edge_delays(diamond, p)
    assert delays.cross == (0.5, 0.5, 0.5, 0.5)
    assert delays.between(0, 0, 1) == 0.5
    assert delays.between(0, 1, 1) == 0.0


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        ({"gpus": 0}, "gpus"),
        ({"streams": 0}, "streams"),
        ({"gpus": 1.5}, "gpus"),
        ({"gpus": True}, "gpus"),
        ({"bandwidth_gbps": 0}, "bandwidth_gbps"),
        ({"latency_us": -1}, "latency_us"),
        ({"gpus": 2, "bandwidth_matrix_gbps": ((1.0,),)}, "2 x 2"),
        ({"gpus": 2, "bandwidth_matrix_gbps": ((1.0, 0.0), (1.0, 1.0))}, "bandwidth_matrix_gbps[0][1]"),
        ({"gpus": 2, "latency_matrix_us": ((0.0, 1.0), (1.0, 0.0))}, "needs bandwidth_matrix_gbps"),
    ],
)
def test_invalid_platforms(kwargs, culprit):
    with pytest.raises(PlatformError) as info:
        Platform(**kwargs)
    assert culprit in str(info.value) and isinstance(info.value, HiosError)


def test_dict_round_trip_and_unknown_field():
    p = Platform(gpus=2, streams=3, bandwidth_matrix_gbps=((1.0, 2.0), (3.0, 4.0)))
    assert Platform.from_dict(p.to_dict()) == p
    with pytest.raises(PlatformError, match="gpu_count"):
        Platform.from_dict({"gpu_count": 2})


def test_matrix_edge_comm_uses_slowest_pair():
    from hios_opt import Edge, Op, OpGraph

    g = OpGraph([Op("a", 1.0, output_bytes=1_000_000), Op("b", 1.0)], [Edge("a", "b")])
    p = Platform(gpus=2, latency_us=0.0, bandwidth_matrix_gbps=((1.0, 10.0), (1.0, 1.0)))
    # slowest pair: 1 MB at 1 GB/s = 1 ms
    assert edge_delays(g, p).cross == (pytest.approx(1.0),)
    assert edge_delays(g, p).between(0, 0, 1) == pytest.approx(0.1)
