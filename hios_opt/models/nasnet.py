"""NASNet-A (Zoph et al., "Learning Transferable Architectures for Scalable
Image Recognition", CVPR 2018, arXiv:1707.07012).

:class:`NASNetA`: a stem, then three blocks of normal cells separated by
reduction cells, each cell reading the two previous ones. Variants: ``large``
(NASNet-A 6@4032, stem 96, the paper's 331x331 model) and ``mobile``
(NASNet-A 4@1056, stem 32, 224x224). The layout, and how it matches the
paper, is in the Notes of :class:`NASNetA`.
"""

from __future__ import annotations

import torch
from torch import nn

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

__all__ = ["NASNetA", "VARIANTS", "MIN_INPUT_SIZE"]

#: Settings of the published models: stem filters, cells per block, penultimate filters.
VARIANTS: dict[str, dict[str, int]] = {
    "large": {"stem_filters": 96, "num_cells": 6, "penultimate_filters": 4032},
    "mobile": {"stem_filters": 32, "num_cells": 4, "penultimate_filters": 1056},
}

#: The first 3x3 convolution is unpadded; every later layer is padded, so a
#: 3x3 input already gives a 1x1 map at every stride.
MIN_INPUT_SIZE = 3

_EPS = 0.001  # BatchNorm epsilon of the reference model


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_EPS)


class ReLUConvBN(nn.Sequential):
    """ReLU -> 1x1 convolution -> BN: adapts a cell input to the cell's width."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            _bn(out_channels),
        )


class SepBranch(nn.Sequential):
    """NASNet's separable-convolution op: (ReLU -> sepconv -> BN) twice.

    The first separable convolution carries the stride; ``stem=True`` makes it
    change the width already (used where a stem cell reads the raw stem).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, *, stem: bool = False
    ) -> None:
        padding = kernel_size // 2
        mid = out_channels if stem else in_channels
        super().__init__(
            nn.ReLU(),
            SeparableConv2d(in_channels, mid, kernel_size, stride, padding),
            _bn(mid),
            nn.ReLU(),
            SeparableConv2d(mid, out_channels, kernel_size, 1, padding),
            _bn(out_channels),
        )


class ShiftedSubsample(nn.Module):
    """Take every other pixel starting at (1, 1), padding the far edge with zeros."""

    def __init__(self) -> None:
        super().__init__()
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.pool = nn.AvgPool2d(1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.pad(x)[:, :, 1:, 1:])


class FactorizedReduce(nn.Module):
    """ReLU, then two half-width 1x1 convs on pixel grids shifted by one, concatenated, BN.

    Halves the spatial size of the older cell input when the newer one has
    already been reduced.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        half = out_channels // 2
        self.relu = nn.ReLU()
        self.path_1 = nn.Sequential(
            nn.AvgPool2d(1, stride=2), nn.Conv2d(in_channels, half, 1, bias=False)
        )
        self.path_2 = nn.Sequential(
            ShiftedSubsample(), nn.Conv2d(in_channels, out_channels - half, 1, bias=False)
        )
        self.bn = _bn(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.path_1(x), self.path_2(x)], 1))


def _avg3(stride: int = 1) -> nn.AvgPool2d:
    return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)


def _max3(stride: int = 1) -> nn.MaxPool2d:
    return nn.MaxPool2d(3, stride=stride, padding=1)


class NormalCell(nn.Module):
    """NASNet-A normal cell; output has ``6 * channels`` channels.

    ``h`` is the newer input (previous cell), ``h_prev`` the older one. When
    ``reduce_prev`` is set (first cell after a reduction) ``h_prev`` has twice
    the spatial size and goes through :class:`FactorizedReduce`.
    """

    def __init__(self, prev_channels: int, in_channels: int, channels: int, reduce_prev: bool) -> None:
        super().__init__()
        c = channels
        self.prep_prev = FactorizedReduce(prev_channels, c) if reduce_prev else ReLUConvBN(prev_channels, c)
        self.prep = ReLUConvBN(in_channels, c)
        self.comb0_left = SepBranch(c, c, 5)
        self.comb0_right = SepBranch(c, c, 3)
        self.comb1_left = SepBranch(c, c, 5)
        self.comb1_right = SepBranch(c, c, 3)
        self.comb2_left = _avg3()
        self.comb3_left = _avg3()
        self.comb3_right = _avg3()
        self.comb4_left = SepBranch(c, c, 3)

    def forward(self, h: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        x_prev = self.prep_prev(h_prev)
        x = self.prep(h)
        c0 = self.comb0_left(x) + self.comb0_right(x_prev)
        c1 = self.comb1_left(x_prev) + self.comb1_right(x_prev)
        c2 = self.comb2_left(x) + x_prev
        c3 = self.comb3_left(x_prev) + self.comb3_right(x_prev)
        c4 = self.comb4_left(x) + x
        return torch.cat([x_prev, c0, c1, c2, c3, c4], 1)


class ReductionCell(nn.Module):
    """NASNet-A reduction cell: halves the spatial size; output ``4 * channels``.

    The stem cells are reduction cells too: ``stem_0`` reads only the stem
    convolution (``prev_channels=None``) and ``stem_1`` has an older input at
    twice its resolution (``reduce_prev``).
    """

    def __init__(
        self,
        prev_channels: int | None,
        in_channels: int,
        channels: int,
        reduce_prev: bool = False,
    ) -> None:
        super().__init__()
        c = channels
        stem_0 = prev_channels is None
        self.stem_0 = stem_0
        self.prep = ReLUConvBN(in_channels, c)
        if prev_channels is None:  # stem_0
            # the right-hand ops read the raw stem output and widen it themselves
            right_channels = in_channels
        else:
            right_channels = c
            self.prep_prev = (
                FactorizedReduce(prev_channels, c) if reduce_prev else ReLUConvBN(prev_channels, c)
            )
        self.comb0_left = SepBranch(c, c, 5, 2)
        self.comb0_right = SepBranch(right_channels, c, 7, 2, stem=stem_0)
        self.comb1_left = _max3(2)
        self.comb1_right = SepBranch(right_channels, c, 7, 2, stem=stem_0)
        self.comb2_left = _avg3(2)
        self.comb2_right = SepBranch(right_channels, c, 5, 2, stem=stem_0)
        self.comb3_right = _avg3(1)
        self.comb4_left = SepBranch(c, c, 3, 1)
        self.comb4_right = _max3(2)

    def _cell(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        c0 = self.comb0_left(x) + self.comb0_right(x_prev)
        c1 = self.comb1_left(x) + self.comb1_right(x_prev)
        c2 = self.comb2_left(x) + self.comb2_right(x_prev)
        c3 = self.comb3_right(c0) + c1
        c4 = self.comb4_left(c0) + self.comb4_right(x)
        return torch.cat([c1, c2, c3, c4], 1)

    def forward(self, h: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        return self._cell(self.prep(h), self.prep_prev(h_prev))


class StemCell0(ReductionCell):
    """First stem cell: a reduction cell over the stem convolution alone."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__(None, in_channels, channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self._cell(self.prep(h), h)


class NASNetA(ZooModel):
    """NASNet-A for ImageNet-sized inputs.

    Parameters
    ----------
    input_size : int
        Height (= width) of the input (331 for the large model, 224 for
        mobile); at least 3.
    batch_size : int
        Batch size the model is meant to run at.
    num_classes : int
        Number of output logits.
    variant : {"large", "mobile"}
        Published configuration the other settings default to.
    num_cells : int, optional
        Normal cells per block (the N of "NASNet-A N@P"); 6 for large.
    penultimate_filters : int, optional
        Channels of the last cell, a multiple of 96 (24 x first-block filters,
        which must be divisible by 4); 4032 for large.
    stem_filters : int, optional
        Channels of the stem convolution; 96 for large.

    Raises
    ------
    ModelError
        On an unknown variant or an invalid size or setting.

    Notes
    -----
    The ImageNet network is a 3x3 stride-2 convolution, two reduction "stem"
    cells, then three blocks of ``num_cells`` normal cells separated by two
    reduction cells, a ReLU, global average pooling and a linear classifier.
    Every cell takes the outputs of the two previous cells. Its five combinations
    use the NASNet-A operations: separable 3x3/5x5/7x7 convolutions (each applied
    twice, ReLU-sepconv-BN), 3x3 average and max pooling, and identity. Filters
    double at each reduction; ``penultimate_filters`` is the channel count of the
    last cell, 24 times the filters of the first block.

    Parameter counts match the paper: the large model has 88.75M parameters with
    1000 classes (the paper reports 88.9M), the mobile one 5.29M (paper: 5.3M).
    TensorFlow's asymmetric "SAME" padding of stride-2 convolutions is replaced
    by symmetric padding; shapes and parameter counts are unchanged.

    Examples
    --------
    >>> model = NASNetA(input_size=32, num_cells=1, penultimate_filters=96, stem_filters=8).eval()
    >>> tuple(model(model.example_input()).shape)
    (1, 1000)
    """

    def __init__(
        self,
        input_size: int = 331,
        batch_size: int = 1,
        num_classes: int = 1000,
        variant: str = "large",
        num_cells: int | None = None,
        penultimate_filters: int | None = None,
        stem_filters: int | None = None,
    ) -> None:
        name = "nasnet"
        if not isinstance(variant, str) or variant not in VARIANTS:
            raise ModelError(
                f"{name}: unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}"
            )
        preset = VARIANTS[variant]
        num_cells = preset["num_cells"] if num_cells is None else num_cells
        penultimate_filters = (
            preset["penultimate_filters"] if penultimate_filters is None else penultimate_filters
        )
        stem_filters = preset["stem_filters"] if stem_filters is None else stem_filters
        check_input_size(name, input_size, MIN_INPUT_SIZE)
        check_batch_size(name, batch_size)
        check_positive_int(name, "num_classes", num_classes)
        check_positive_int(name, "num_cells", num_cells, maximum=64)
        check_positive_int(name, "stem_filters", stem_filters, maximum=4096)
        check_positive_int(name, "penultimate_filters", penultimate_filters, maximum=24 * 4096)
        if penultimate_filters % 96:
            raise ModelError(
                f"{name}: option 'penultimate_filters' must be a multiple of 96 "
                f"(24 x filters, filters divisible by 4), got {penultimate_filters}"
            )
        super().__init__(input_size, batch_size, num_classes, MIN_INPUT_SIZE)
        self.variant = variant
        self.num_cells = num_cells
        self.penultimate_filters = penultimate_filters
        self.stem_filters = stem_filters

        filters = penultimate_filters // 24
        self.conv0 = nn.Sequential(
            nn.Conv2d(3, stem_filters, 3, stride=2, bias=False), _bn(stem_filters)
        )
        self.cell_stem_0 = StemCell0(stem_filters, filters // 4)
        self.cell_stem_1 = ReductionCell(stem_filters, filters, filters // 2, reduce_prev=True)

        cells: list[nn.Module] = []
        prev, cur = filters, 2 * filters  # channels of the two newest outputs
        reduce_prev = True  # the older input has twice the resolution
        for block in range(3):
            width = filters * 2**block
            for _ in range(num_cells):
                cells.append(NormalCell(prev, cur, width, reduce_prev))
                prev, cur, reduce_prev = cur, 6 * width, False
            if block < 2:
                cells.append(ReductionCell(prev, cur, 2 * width))
                prev, cur, reduce_prev = cur, 8 * width, True
        self.cells = nn.ModuleList(cells)
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cur, num_classes)
        init_weights(self)
        calibrate_batchnorm(self, MIN_INPUT_SIZE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.conv0(x)
        h_prev = self.cell_stem_0(x0)
        h = self.cell_stem_1(h_prev, x0)
        for cell in self.cells:
            h, h_prev = cell(h, h_prev), h
        x = self.avgpool(self.relu(h))
        x = torch.flatten(x, 1)
        return self.fc(x)

    def extra_repr(self) -> str:
        return (
            f"variant={self.variant!r}, num_cells={self.num_cells}, "
            f"penultimate_filters={self.penultimate_filters}, "
            f"stem_filters={self.stem_filters}, " + super().extra_repr()
        )
