"""Inception-v3 (Szegedy et al., "Rethinking the Inception Architecture for
Computer Vision", CVPR 2016, arXiv:1512.00567).

The standard ImageNet network: a convolutional stem, three 35x35 Inception-A
blocks (Mixed_5b..5d), a grid reduction (Mixed_6a), four 17x17 blocks with
factorised 7x7 convolutions (Mixed_6b..6e), a second reduction (Mixed_7a), two
8x8 blocks with expanded filter banks (Mixed_7b, 7c), global average pooling
and a fully connected classifier. The auxiliary classifier is training-only and
is left out, and so is dropout (an identity at inference).

Parameter count matched: 23,834,568 with 1000 classes, which is the published
27.16M of the reference model minus its 3.33M-parameter auxiliary head.
"""

from __future__ import annotations

import torch
from torch import nn

from hios_opt.models.blocks import (
    ConvBNReLU,
    ZooModel,
    calibrate_batchnorm,
    check_batch_size,
    check_input_size,
    check_positive_int,
    init_weights,
)

__all__ = ["InceptionV3", "MIN_INPUT_SIZE"]

#: Smallest input for which Mixed_7a still produces a 1x1 map.
MIN_INPUT_SIZE = 75

_EPS = 0.001  # BatchNorm epsilon of the reference model


def _conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    stride: int = 1,
    padding: int | tuple[int, int] = 0,
) -> ConvBNReLU:
    return ConvBNReLU(in_channels, out_channels, kernel_size, stride, padding, eps=_EPS)


class InceptionA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _conv(in_channels, 64, 1)
        self.branch5x5 = nn.Sequential(_conv(in_channels, 48, 1), _conv(48, 64, 5, padding=2))
        self.branch3x3dbl = nn.Sequential(
            _conv(in_channels, 64, 1),
            _conv(64, 96, 3, padding=1),
            _conv(96, 96, 3, padding=1),
        )
        self.branch_pool = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1),
            _conv(in_channels, pool_features, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.branch1x1(x), self.branch5x5(x), self.branch3x3dbl(x), self.branch_pool(x)],
            1,
        )


class InceptionB(nn.Module):
    """Grid reduction 35x35 -> 17x17."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = _conv(in_channels, 384, 3, stride=2)
        self.branch3x3dbl = nn.Sequential(
            _conv(in_channels, 64, 1),
            _conv(64, 96, 3, padding=1),
            _conv(96, 96, 3, stride=2),
        )
        self.branch_pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch3x3dbl(x), self.branch_pool(x)], 1)


class InceptionC(nn.Module):
    """17x17 block with 7x7 convolutions factorised into 1x7 and 7x1."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = _conv(in_channels, 192, 1)
        self.branch7x7 = nn.Sequential(
            _conv(in_channels, c7, 1),
            _conv(c7, c7, (1, 7), padding=(0, 3)),
            _conv(c7, 192, (7, 1), padding=(3, 0)),
        )
        self.branch7x7dbl = nn.Sequential(
            _conv(in_channels, c7, 1),
            _conv(c7, c7, (7, 1), padding=(3, 0)),
            _conv(c7, c7, (1, 7), padding=(0, 3)),
            _conv(c7, c7, (7, 1), padding=(3, 0)),
            _conv(c7, 192, (1, 7), padding=(0, 3)),
        )
        self.branch_pool = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1),
            _conv(in_channels, 192, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.branch1x1(x), self.branch7x7(x), self.branch7x7dbl(x), self.branch_pool(x)],
            1,
        )


class InceptionD(nn.Module):
    """Grid reduction 17x17 -> 8x8."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = nn.Sequential(
            _conv(in_channels, 192, 1),
            _conv(192, 320, 3, stride=2),
        )
        self.branch7x7x3 = nn.Sequential(
            _conv(in_channels, 192, 1),
            _conv(192, 192, (1, 7), padding=(0, 3)),
            _conv(192, 192, (7, 1), padding=(3, 0)),
            _conv(192, 192, 3, stride=2),
        )
        self.branch_pool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch7x7x3(x), self.branch_pool(x)], 1)


class InceptionE(nn.Module):
    """8x8 block whose 3x3 branches split into parallel 1x3 and 3x1."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = _conv(in_channels, 320, 1)
        self.branch3x3_1 = _conv(in_channels, 384, 1)
        self.branch3x3_2a = _conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _conv(in_channels, 448, 1)
        self.branch3x3dbl_2 = _conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1),
            _conv(in_channels, 192, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(x)], 1)


class InceptionV3(ZooModel):
    """Inception-v3 without the auxiliary classifier.

    Parameters
    ----------
    input_size : int
        Height (= width) of the input; at least 75 (299 is the classic size).
    batch_size : int
        Batch size the model is meant to run at (used by :meth:`example_input`).
    num_classes : int
        Number of output logits.

    Raises
    ------
    ModelError
        If ``input_size < 75``, ``batch_size < 1`` or ``num_classes < 1``.

    Examples
    --------
    >>> model = InceptionV3(input_size=75).eval()
    >>> tuple(model(model.example_input()).shape)
    (1, 1000)
    """

    def __init__(self, input_size: int = 299, batch_size: int = 1, num_classes: int = 1000) -> None:
        name = "inception_v3"
        check_input_size(name, input_size, MIN_INPUT_SIZE)
        check_batch_size(name, batch_size)
        check_positive_int(name, "num_classes", num_classes)
        super().__init__(input_size, batch_size, num_classes, MIN_INPUT_SIZE)
        self.Conv2d_1a_3x3 = _conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _conv(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, stride=2)
        self.Conv2d_3b_1x1 = _conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _conv(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)
        init_weights(self)
        calibrate_batchnorm(self, MIN_INPUT_SIZE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_1a_3x3(x)
        x = self.Conv2d_2a_3x3(x)
        x = self.Conv2d_2b_3x3(x)
        x = self.maxpool1(x)
        x = self.Conv2d_3b_1x1(x)
        x = self.Conv2d_4a_3x3(x)
        x = self.maxpool2(x)
        x = self.Mixed_5b(x)
        x = self.Mixed_5c(x)
        x = self.Mixed_5d(x)
        x = self.Mixed_6a(x)
        x = self.Mixed_6b(x)
        x = self.Mixed_6c(x)
        x = self.Mixed_6d(x)
        x = self.Mixed_6e(x)
        x = self.Mixed_7a(x)
        x = self.Mixed_7b(x)
        x = self.Mixed_7c(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)
