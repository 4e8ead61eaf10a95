"""Building blocks shared by the model zoo.

Everything here is plain PyTorch and traceable by :func:`torch.fx.symbolic_trace`:
no forward pass branches on tensor values or shapes.
"""

from __future__ import annotations

import torch
from torch import nn

from hios_opt.checks import check_int
from hios_opt.errors import ModelError

__all__ = [
    "ZooModel",
    "ConvBNReLU",
    "SeparableConv2d",
    "check_input_size",
    "check_batch_size",
    "check_positive_int",
    "MAX_INPUT_SIZE",
    "MAX_BATCH_SIZE",
    "MAX_OPTION_VALUE",
    "init_weights",
    "calibrate_batchnorm",
]


#: Largest input size (pixels), batch size and integer option the zoo
#: builds: far above the paper's models; they stop a typo (an input of
#: 100,000 px asked for 120 GB, 10**9 randwire nodes ran out of memory)
#: before anything is allocated.
MAX_INPUT_SIZE = 4096
MAX_BATCH_SIZE = 1024
MAX_OPTION_VALUE = 100_000


def check_batch_size(model: str, batch_size: object) -> int:
    """Return ``batch_size`` if it is an int >= 1, else raise :class:`ModelError`.

    Parameters
    ----------
    model : str
        Model name, used in the error message.
    batch_size : object
        The value to check.

    Returns
    -------
    int
        ``batch_size`` unchanged.

    Raises
    ------
    ModelError
        If ``batch_size`` is not an integer or is smaller than 1.

    Examples
    --------
    >>> check_batch_size("squeezenet", 2)
    2
    """
    batch_size = check_int(batch_size, f"{model}: batch_size", expected="an integer >= 1", error=ModelError, limit=None)
    if batch_size < 1:
        raise ModelError(f"{model}: batch_size must be >= 1, got {batch_size}")
    if batch_size > MAX_BATCH_SIZE:
        raise ModelError(f"{model}: batch_size must be at most {MAX_BATCH_SIZE}, got {batch_size}")
    return batch_size


def check_input_size(model: str, input_size: object, min_input_size: int) -> int:
    """Return ``input_size`` if the model can run at that size, else raise.

    Parameters
    ----------
    model : str
        Model name, used in the error message.
    input_size : object
        Height (= width) of the input image in pixels.
    min_input_size : int
        Smallest size at which every layer of the model still has a
        non-empty output.

    Returns
    -------
    int
        ``input_size`` unchanged.

    Raises
    ------
    ModelError
        If ``input_size`` is not an integer or is below ``min_input_size``.

    Examples
    --------
    >>> check_input_size("inception_v3", 299, 75)
    299
    """
    input_size = check_int(input_size, f"{model}: input_size", expected="an integer number of pixels",
                           error=ModelError, limit=None)
    if input_size < min_input_size:
        raise ModelError(
            f"{model}: input_size {input_size} is too small for the model's "
            f"downsampling; the minimum is {min_input_size}"
        )
    if input_size > MAX_INPUT_SIZE:
        raise ModelError(f"{model}: input_size {input_size} is above the largest the zoo builds, {MAX_INPUT_SIZE}")
    return input_size


def check_positive_int(model: str, option: str, value: object, minimum: int = 1,
                       maximum: int = MAX_OPTION_VALUE) -> int:
    """Return ``value`` if it is an int in ``minimum .. maximum``, else raise :class:`ModelError`.

    Examples
    --------
    >>> check_positive_int("randwire", "nodes", 32)
    32
    """
    value = check_int(value, f"{model}: option {option!r}", min_value=minimum, error=ModelError)
    if value > maximum:
        raise ModelError(f"{model}: option {option!r} must be at most {maximum:,}, got {value:,}")
    return value


class ZooModel(nn.Module):
    """Base class of the zoo's models: remembers the input shape it is built for.

    Parameters
    ----------
    input_size : int
        Height (= width) of the input images.
    batch_size : int
        Batch size the model is meant to run at.
    num_classes : int
        Number of output logits.
    min_input_size : int
        Smallest input size the architecture accepts.
    """

    def __init__(
        self, input_size: int, batch_size: int, num_classes: int, min_input_size: int = 1
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.batch_size = batch_size
        self.num_classes = num_classes
        self.min_input_size = min_input_size

    def input_shape(self, batch_size: int | None = None) -> tuple[int, int, int, int]:
        """Shape ``(B, 3, H, W)`` of the model's input.

        Examples
        --------
        >>> from hios_opt.models import get
        >>> get("squeezenet", input_size=64, batch_size=2).input_shape()
        (2, 3, 64, 64)
        """
        batch = self.batch_size if batch_size is None else batch_size
        batch = check_batch_size(type(self).__name__, batch)
        return (batch, 3, self.input_size, self.input_size)

    def example_input(self, batch_size: int | None = None, seed: int = 0) -> torch.Tensor:
        """A random input of shape ``(B, 3, H, W)``, the same for the same seed.

        Parameters
        ----------
        batch_size : int, optional
            Defaults to the batch size the model was built for.
        seed : int
            Seed of the private generator (the global RNG is not touched).

        Returns
        -------
        torch.Tensor
            Standard-normal float32 tensor.

        Examples
        --------
        >>> from hios_opt.models import get
        >>> model = get("squeezenet", input_size=64)
        >>> tuple(model.example_input(batch_size=2).shape)
        (2, 3, 64, 64)
        """
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(self.input_shape(batch_size), generator=generator)

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, batch_size={self.batch_size}, "
            f"num_classes={self.num_classes}"
        )


class ConvBNReLU(nn.Sequential):
    """Convolution (no bias) -> BatchNorm -> ReLU.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    kernel_size, stride, padding : int or tuple of int
        As for :class:`torch.nn.Conv2d`.
    eps : float
        BatchNorm epsilon (Inception-v3 uses 0.001).
    relu : bool
        Append the ReLU (default) or not.

    Examples
    --------
    >>> block = ConvBNReLU(3, 8, kernel_size=3, padding=1)
    >>> tuple(block(torch.zeros(1, 3, 16, 16)).shape)
    (1, 8, 16, 16)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 1,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        *,
        eps: float = 1e-5,
        relu: bool = True,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(out_channels, eps=eps),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=False))
        super().__init__(*layers)


class SeparableConv2d(nn.Sequential):
    """Depthwise ``k x k`` convolution followed by a pointwise ``1 x 1`` one.

    No non-linearity and no normalisation between the two, as in NASNet and
    RandWire.

    Examples
    --------
    >>> conv = SeparableConv2d(8, 16, kernel_size=5, stride=2, padding=2)
    >>> tuple(conv(torch.zeros(1, 8, 9, 9)).shape)
    (1, 16, 5, 5)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                in_channels,
                kernel_size,
                stride,
                padding,
                groups=in_channels,
                bias=False,
            ),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        )


def init_weights(model: nn.Module) -> None:
    """Initialise weights so activations keep their scale in eval mode.

    Convolutions get He-normal weights (fan-in, ReLU gain), BatchNorm layers
    unit scale and zero shift, linear layers small normal weights. With the
    BatchNorm running statistics at their defaults, an untrained model then
    neither explodes nor collapses to a constant, so comparing its outputs
    (eager vs traced vs scheduled) is meaningful.

    Examples
    --------
    >>> block = ConvBNReLU(3, 8, kernel_size=3)
    >>> init_weights(block)
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)
            nn.init.zeros_(module.bias)


#: Input size used by :func:`calibrate_batchnorm` unless the model needs more.
CALIBRATION_SIZE = 224


@torch.no_grad()
def calibrate_batchnorm(
    model: nn.Module,
    min_input_size: int = 1,
    *,
    input_size: int = CALIBRATION_SIZE,
    batch_size: int = 2,
    seed: int = 0,
) -> None:
    """Set every BatchNorm's running statistics from one pass of random data.

    With freshly initialised running statistics (mean 0, variance 1) an eval-
    mode network whose branches are summed, like NASNet, grows its
    activations by a constant factor per cell (to ~1e5 for NASNet-A large),
    which overflows float16 and makes output comparisons meaningless. One
    training-mode pass on a fixed random batch makes every BatchNorm output
    roughly unit-variance (measured: output std 0.2-2 at 512 px for every
    model of the zoo). The calibration batch does not depend on the
    model's own input size, so models built for different sizes share
    identical weights and buffers.

    Parameters
    ----------
    model : torch.nn.Module
        The model; its train/eval mode is restored afterwards.
    min_input_size : int
        The model's minimum input size; the calibration input is at least
        this large.
    input_size, batch_size : int
        Shape of the calibration batch.
    seed : int
        Seed of the calibration batch.

    Examples
    --------
    >>> block = ConvBNReLU(3, 8, kernel_size=3)
    >>> calibrate_batchnorm(block)
    >>> bool(block[1].running_var.min() > 0)
    True
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: after one batch, exactly its statistics
    was_training = model.training
    size = max(input_size, min_input_size)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    try:
        model(torch.randn((batch_size, 3, size, size), generator=generator))
    finally:
        model.train(was_training)
        for bn, momentum in zip(norms, momenta):
            bn.momentum = momentum
