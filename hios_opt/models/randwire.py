"""RandWire-WS (Xie et al., "Exploring Randomly Wired Neural Networks for Image
Recognition", ICCV 2019, arXiv:1904.01569).

:class:`RandWire`: stages whose nodes (aggregation, ReLU, separable
convolution, BN) are wired by a random Watts-Strogatz graph made a DAG
(:func:`ws_dag`). Settings: ``small`` (C=78), ``regular`` (C=109) and
``large`` (the regular layout with C=154), all with N=32, K=4, P=0.75. The
layout, and how it matches the paper, is in the Notes of :class:`RandWire`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hios_opt.checks import check_int, check_number
from hios_opt.errors import ModelError
from hios_opt.models.blocks import (
    SeparableConv2d,
    ZooModel,
    calibrate_batchnorm,
    check_batch_size,
    check_input_size,
    check_positive_int,
    init_weights,
)

__all__ = ["RandWire", "Setting", "SETTINGS", "AGGREGATIONS", "MIN_INPUT_SIZE", "ws_dag"]

@dataclass(frozen=True)
class Setting:
    """A published RandWire configuration."""

    layout: str  # "small" or "regular" (paper, Table 1)
    channels: int  # C
    nodes: int  # N
    k: int  # Watts-Strogatz ring degree K
    p: float  # Watts-Strogatz rewiring probability P


#: Published settings.
SETTINGS: dict[str, Setting] = {
    "small": Setting("small", channels=78, nodes=32, k=4, p=0.75),
    "regular": Setting("regular", channels=109, nodes=32, k=4, p=0.75),
    "large": Setting("regular", channels=154, nodes=32, k=4, p=0.75),
}

AGGREGATIONS = ("weighted", "sum")

#: Every convolution is padded, so any input of at least one pixel runs.
MIN_INPUT_SIZE = 1


def ws_dag(nodes: int, k: int, p: float, seed: int) -> list[tuple[int, int]]:
    """Edges of a Watts-Strogatz graph oriented from low to high node index.

    Parameters
    ----------
    nodes : int
        Number of nodes N.
    k : int
        Each node starts joined to its ``k`` nearest ring neighbours.
    p : float
        Rewiring probability.
    seed : int
        Seed passed to :func:`networkx.watts_strogatz_graph`.

    Returns
    -------
    list of (int, int)
        Sorted edges ``(u, v)`` with ``u < v``.

    Examples
    --------
    >>> ws_dag(4, 2, 0.0, seed=0)
    [(0, 1), (0, 3), (1, 2), (2, 3)]
    """
    import networkx as nx  # only needed while building a RandWire model

    graph = nx.watts_strogatz_graph(nodes, k, p, seed=seed)
    return sorted((min(u, v), max(u, v)) for u, v in graph.edges())


class RandWireNode(nn.Module):
    """Aggregation of the inputs, then ReLU -> separable 3x3 conv -> BN."""

    def __init__(
        self,
        num_inputs: int,
        in_channels: int,
        out_channels: int,
        stride: int,
        aggregation: str,
    ) -> None:
        super().__init__()
        self.num_inputs = num_inputs
        self.weighted = aggregation == "weighted" and num_inputs > 1
        if self.weighted:
            self.aggregation_weight = nn.Parameter(torch.zeros(num_inputs))
        self.relu = nn.ReLU()
        self.conv = SeparableConv2d(in_channels, out_channels, 3, stride, 1)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        # the number of inputs is fixed at construction, so this loop unrolls
        # into a static graph under torch.fx
        if self.weighted:
            weight = torch.sigmoid(self.aggregation_weight)
            x = inputs[0] * weight[0]
            for i in range(1, self.num_inputs):
                x = x + inputs[i] * weight[i]
        else:
            x = inputs[0]
            for i in range(1, self.num_inputs):
                x = x + inputs[i]
        return self.bn(self.conv(self.relu(x)))


class RandWireStage(nn.Module):
    """One randomly wired stage built from a DAG on nodes ``0 .. N-1``.

    Parameters
    ----------
    edges : sequence of (int, int)
        DAG edges with ``u < v``.
    nodes : int
        Number of nodes.
    in_channels, out_channels : int
        Channels of the stage input and of every node.
    aggregation : {"weighted", "sum"}
        How a node combines several inputs.
    """

    def __init__(
        self,
        edges: Sequence[tuple[int, int]],
        nodes: int,
        in_channels: int,
        out_channels: int,
        aggregation: str,
    ) -> None:
        super().__init__()
        preds: list[list[int]] = [[] for _ in range(nodes)]
        has_succ = [False] * nodes
        for u, v in edges:
            preds[v].append(u)
            has_succ[u] = True
        self.edges = [tuple(edge) for edge in edges]
        self.preds = preds
        self.output_nodes = [v for v in range(nodes) if not has_succ[v]]
        self.nodes = nn.ModuleList(
            RandWireNode(
                num_inputs=max(1, len(preds[v])),
                in_channels=out_channels if preds[v] else in_channels,
                out_channels=out_channels,
                stride=1 if preds[v] else 2,
                aggregation=aggregation,
            )
            for v in range(nodes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # nodes are numbered in topological order (edges go low -> high)
        outputs: list[torch.Tensor] = []
        for v, node in enumerate(self.nodes):
            if self.preds[v]:
                outputs.append(node(*[outputs[u] for u in self.preds[v]]))
            else:
                outputs.append(node(x))
        y = outputs[self.output_nodes[0]]
        for v in self.output_nodes[1:]:
            y = y + outputs[v]
        if len(self.output_nodes) > 1:
            y = y * (1.0 / len(self.output_nodes))
        return y


class RandWire(ZooModel):
    """RandWire-WS image classifier.

    Parameters
    ----------
    input_size : int
        Height (= width) of the input (224 is the classic size).
    batch_size : int
        Batch size the model is meant to run at.
    num_classes : int
        Number of output logits.
    setting : {"small", "regular", "large"}
        Published configuration; the options below default to it.
    channels : int, optional
        Base width C (78 / 109 / 154).
    nodes : int, optional
        Nodes N per full random stage (32); the regular layout's first random
        stage has N // 2.
    k : int, optional
        Watts-Strogatz ring degree K (4); even, and smaller than every stage's
        node count.
    p : float, optional
        Watts-Strogatz rewiring probability P (0.75), in [0, 1].
    seed : int
        Seeds the random graphs (stage ``i`` gets its own seed derived from
        it) and the weight initialisation: the same seed gives the same
        network.
    aggregation : {"weighted", "sum"}
        Node aggregation: sigmoid-weighted sum (the paper's) or plain sum.

    Raises
    ------
    ModelError
        On an unknown setting or aggregation, or an invalid size or setting.

    Notes
    -----
    Each random stage is a Watts-Strogatz graph ``WS(N, K, P)`` from networkx,
    made a DAG by orienting every edge from the lower to the higher node index
    (:func:`ws_dag`). A node aggregates its inputs (a weighted sum with
    sigmoid-ed learnable weights, or a plain sum), then applies ReLU -> 3x3
    separable convolution -> BN. Nodes without predecessors read the stage input
    and carry the stage's stride 2; the stage output is the mean of the nodes
    without successors.

    Layout (paper, Table 1), for ``C`` channels and ``N`` nodes per stage:

    - ``small``: conv1 3x3 C/2 s2 + BN, conv2 ReLU-3x3 conv C s2-BN, random
      stages of N nodes with C, 2C, 4C channels;
    - ``regular``: conv1, then random stages of N/2, N, N, N nodes with C, 2C, 4C,
      8C channels;

    both end with ReLU -> 1x1 conv to 1280 -> BN -> ReLU, global average pooling
    and a linear classifier.

    Parameter counts match the paper (1000 classes, seed 0): 5.51M for small,
    32.2M for regular and 62.1M for large (paper: 5.6M, 31.9M and 61.5M). The
    exact count depends on the seed, since the number of input nodes and the
    in-degrees vary with the graph.

    Examples
    --------
    >>> model = RandWire(input_size=32, channels=8, nodes=6, seed=1).eval()
    >>> tuple(model(model.example_input()).shape)
    (1, 1000)
    """

    def __init__(
        self,
        input_size: int = 224,
        batch_size: int = 1,
        num_classes: int = 1000,
        setting: str = "small",
        channels: int | None = None,
        nodes: int | None = None,
        k: int | None = None,
        p: float | None = None,
        seed: int = 0,
        aggregation: str = "weighted",
    ) -> None:
        name = "randwire"
        if not isinstance(setting, str) or setting not in SETTINGS:
            raise ModelError(
                f"{name}: unknown setting {setting!r}; valid settings: {', '.join(SETTINGS)}"
            )
        if not isinstance(aggregation, str) or aggregation not in AGGREGATIONS:
            raise ModelError(
                f"{name}: unknown aggregation {aggregation!r}; "
                f"valid aggregations: {', '.join(AGGREGATIONS)}"
            )
        preset = SETTINGS[setting]
        layout = preset.layout
        channels = preset.channels if channels is None else channels
        nodes = preset.nodes if nodes is None else nodes
        k = preset.k if k is None else k
        p = preset.p if p is None else p
        check_input_size(name, input_size, MIN_INPUT_SIZE)
        check_batch_size(name, batch_size)
        check_positive_int(name, "num_classes", num_classes)
        check_positive_int(name, "channels", channels, minimum=2, maximum=4096)
        check_positive_int(name, "nodes", nodes, minimum=2, maximum=1024)
        check_positive_int(name, "k", k, minimum=2)
        check_int(seed, f"{name}: option 'seed'", min_value=0, error=ModelError, limit=None)
        check_number(p, f"{name}: option 'p'", min_value=0.0, max_value=1.0, expected="a number in [0, 1]",
                     error=ModelError, limit=None)
        if layout == "small":
            stage_plan = [(nodes, channels), (nodes, 2 * channels), (nodes, 4 * channels)]
        else:
            stage_plan = [
                (nodes // 2, channels),
                (nodes, 2 * channels),
                (nodes, 4 * channels),
                (nodes, 8 * channels),
            ]
        smallest = min(n for n, _ in stage_plan)
        if k % 2 or k >= smallest:
            raise ModelError(
                f"{name}: option 'k' must be even and smaller than the smallest stage's "
                f"node count ({smallest}), got {k}"
            )
        super().__init__(input_size, batch_size, num_classes, MIN_INPUT_SIZE)
        self.setting = setting
        self.channels = channels
        self.num_nodes = nodes
        self.k = k
        self.p = float(p)
        self.seed = seed
        self.aggregation = aggregation

        rng = random.Random(seed)
        stage_seeds = [rng.randrange(2**31) for _ in stage_plan]
        self.graphs = [ws_dag(n, k, self.p, s) for (n, _), s in zip(stage_plan, stage_seeds)]

        stem: list[nn.Module] = [
            nn.Conv2d(3, channels // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels // 2),
        ]
        width = channels // 2
        if layout == "small":
            stem += [
                nn.ReLU(),
                nn.Conv2d(width, channels, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels),
            ]
            width = channels
        self.stem = nn.Sequential(*stem)
        stages = []
        for edges, (n, out_channels) in zip(self.graphs, stage_plan):
            stages.append(RandWireStage(edges, n, width, out_channels, aggregation))
            width = out_channels
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(width, 1280, 1, bias=False),
            nn.BatchNorm2d(1280),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(1280, num_classes)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            init_weights(self)
        calibrate_batchnorm(self, MIN_INPUT_SIZE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stages(x)
        x = self.head(x)
        x = torch.flatten(x, 1)
        return self.fc(x)

    def extra_repr(self) -> str:
        return (
            f"setting={self.setting!r}, channels={self.channels}, nodes={self.num_nodes}, "
            f"k={self.k}, p={self.p}, seed={self.seed}, aggregation={self.aggregation!r}, "
            + super().extra_repr()
        )
