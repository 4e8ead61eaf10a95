"""SqueezeNet (Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x
fewer parameters and <0.5MB model size", arXiv:1602.07360).

Version 1.0 is the network of the paper (7x7 stem, 96 channels, pooling after
fire4 and fire8); version 1.1 is the revision from the authors' repository
(3x3 stem, 64 channels, pooling after fire3 and fire5) with the same accuracy
and about 2.4x less computation.

Parameter counts matched (1000 classes): 1,248,424 for 1.0 and 1,235,496 for
1.1, the counts of the authors' Caffe models. Max pools use ``ceil_mode`` as in
Caffe, the classifier is a 1x1 convolution, ReLU and global average pool;
dropout (an identity at inference) is left out.
"""

from __future__ import annotations

import torch
from torch import nn

from hios_opt.errors import ModelError
from hios_opt.models.blocks import (
    ZooModel,
    check_batch_size,
    check_input_size,
    check_positive_int,
    init_weights,
)

__all__ = ["Fire", "SqueezeNet", "MIN_INPUT_SIZE", "VERSIONS"]

VERSIONS = ("1.0", "1.1")

#: Smallest input at which every layer has a non-empty output, per version.
MIN_INPUT_SIZE = {"1.0": 21, "1.1": 17}


class Fire(nn.Module):
    """Fire module: 1x1 squeeze, then parallel 1x1 and 3x3 expands, concatenated.

    Examples
    --------
    >>> fire = Fire(96, 16, 64, 64)
    >>> tuple(fire(torch.zeros(1, 96, 13, 13)).shape)
    (1, 128, 13, 13)
    """

    def __init__(
        self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int
    ) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(in_channels, squeeze, 1), nn.ReLU())
        self.expand1x1 = nn.Sequential(nn.Conv2d(squeeze, expand1x1, 1), nn.ReLU())
        self.expand3x3 = nn.Sequential(
            nn.Conv2d(squeeze, expand3x3, 3, padding=1), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return torch.cat([self.expand1x1(s), self.expand3x3(s)], 1)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(3, stride=2, ceil_mode=True)


class SqueezeNet(ZooModel):
    """SqueezeNet 1.0 or 1.1.

    Parameters
    ----------
    input_size : int
        Height (= width) of the input (224 is the classic size); at least 21
        for version 1.0 and 17 for 1.1 (the last max pool needs a 2x2 map).
    batch_size : int
        Batch size the model is meant to run at.
    num_classes : int
        Number of output logits.
    version : {"1.0", "1.1"}
        Architecture version.

    Raises
    ------
    ModelError
        On an unknown version, a too small ``input_size``, ``batch_size < 1``
        or ``num_classes < 1``.

    Examples
    --------
    >>> model = SqueezeNet(input_size=64, version="1.1").eval()
    >>> tuple(model(model.example_input()).shape)
    (1, 1000)
    """

    def __init__(
        self,
        input_size: int = 224,
        batch_size: int = 1,
        num_classes: int = 1000,
        version: str = "1.0",
    ) -> None:
        name = "squeezenet"
        version = str(version)
        if version not in VERSIONS:
            raise ModelError(
                f"{name}: unknown version {version!r}; valid versions: {', '.join(VERSIONS)}"
            )
        check_input_size(name, input_size, MIN_INPUT_SIZE[version])
        check_batch_size(name, batch_size)
        check_positive_int(name, "num_classes", num_classes)
        super().__init__(input_size, batch_size, num_classes, MIN_INPUT_SIZE[version])
        self.version = version
        if version == "1.0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, 7, stride=2),
                nn.ReLU(),
                _pool(),
                Fire(96, 16, 64, 64),
                Fire(128, 16, 64, 64),
                Fire(128, 32, 128, 128),
                _pool(),
                Fire(256, 32, 128, 128),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                _pool(),
                Fire(512, 64, 256, 256),
            )
        else:
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 3, stride=2),
                nn.ReLU(),
                _pool(),
                Fire(64, 16, 64, 64),
                Fire(128, 16, 64, 64),
                _pool(),
                Fire(128, 32, 128, 128),
                Fire(256, 32, 128, 128),
                _pool(),
                Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256),
            )
        self.classifier = nn.Sequential(
            nn.Conv2d(512, num_classes, 1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.classifier(x)
        return torch.flatten(x, 1)

    def extra_repr(self) -> str:
        return f"version={self.version!r}, " + super().extra_repr()
