"""Name -> model registry: build, describe and feed the zoo's models."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from hios_opt.errors import ModelError
from hios_opt.models import inception_v3, nasnet, randwire, squeezenet, vit_moe
from hios_opt.models.blocks import ZooModel, check_batch_size, check_input_size

__all__ = ["ModelInfo", "get", "names", "info", "example_input"]

#: Input sizes at which HIOS evaluates its benchmark models.
PAPER_INPUT_SIZES = (331, 512, 768, 1280)


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model.

    Attributes
    ----------
    name : str
        Registry name, as passed to :func:`get`.
    description : str
        One line: architecture, source, default configuration.
    default_input_size : int
        Input height (= width) used when :func:`get` gets none.
    min_input_size : int
        Smallest input at which every layer (with the default options) has a
        non-empty output.
    paper_input_sizes : tuple of int
        Input sizes of the HIOS evaluation.
    options : dict
        Every option :func:`get` accepts for this model, with its default
        (``None`` means "taken from the chosen variant/setting").
    """

    name: str
    description: str
    default_input_size: int
    min_input_size: int
    paper_input_sizes: tuple[int, ...] = PAPER_INPUT_SIZES
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Entry:
    info: ModelInfo
    build: Callable[..., ZooModel]
    min_input_size: Callable[[Mapping[str, Any]], int]


def _squeezenet_min(options: Mapping[str, Any]) -> int:
    return squeezenet.MIN_INPUT_SIZE.get(str(options.get("version", "1.0")), 1)


_ENTRIES: dict[str, _Entry] = {
    "inception_v3": _Entry(
        ModelInfo(
            name="inception_v3",
            description="Inception-v3 (Szegedy et al. 2016), no auxiliary head, 23.8M parameters",
            default_input_size=299,
            min_input_size=inception_v3.MIN_INPUT_SIZE,
            options={"num_classes": 1000},
        ),
        inception_v3.InceptionV3,
        lambda options: inception_v3.MIN_INPUT_SIZE,
    ),
    "nasnet": _Entry(
        ModelInfo(
            name="nasnet",
            description="NASNet-A (Zoph et al. 2018); variant 'large' (6@4032, 88.75M "
            "parameters) or 'mobile' (4@1056)",
            default_input_size=331,
            min_input_size=nasnet.MIN_INPUT_SIZE,
            options={
                "num_classes": 1000,
                "variant": "large",
                "num_cells": None,
                "penultimate_filters": None,
                "stem_filters": None,
            },
        ),
        nasnet.NASNetA,
        lambda options: nasnet.MIN_INPUT_SIZE,
    ),
    "randwire": _Entry(
        ModelInfo(
            name="randwire",
            description="RandWire-WS (Xie et al. 2019); setting 'small' (C=78), 'regular' "
            "(C=109) or 'large' (C=154), N=32, K=4, P=0.75",
            default_input_size=224,
            min_input_size=randwire.MIN_INPUT_SIZE,
            options={
                "num_classes": 1000,
                "setting": "small",
                "channels": None,
                "nodes": None,
                "k": None,
                "p": None,
                "seed": 0,
                "aggregation": "weighted",
            },
        ),
        randwire.RandWire,
        lambda options: randwire.MIN_INPUT_SIZE,
    ),
    "squeezenet": _Entry(
        ModelInfo(
            name="squeezenet",
            description="SqueezeNet (Iandola et al. 2016); version '1.0' (1.25M parameters) "
            "or '1.1'",
            default_input_size=224,
            min_input_size=max(squeezenet.MIN_INPUT_SIZE.values()),
            options={"num_classes": 1000, "version": "1.0"},
        ),
        squeezenet.SqueezeNet,
        _squeezenet_min,
    ),
    "vit_moe": _Entry(
        ModelInfo(
            name="vit_moe",
            description="ViT with Soft MoE layers (Puigcerver et al. 2024); variant 'tiny' (192 wide, 6 blocks, "
            "the last 3 with 8 parallel experts; 9.3M parameters at 224 px), 'small' or 'base'",
            default_input_size=224,
            min_input_size=vit_moe.MIN_INPUT_SIZE,
            options={
                "num_classes": 1000,
                "variant": "tiny",
                "experts": 8,
                "slots_per_expert": 1,
                "moe_blocks": None,
                "patch_size": 16,
                "mlp_ratio": 4,
            },
        ),
        vit_moe.VitMoE,
        lambda options: options.get("patch_size", vit_moe.MIN_INPUT_SIZE) if isinstance(
            options.get("patch_size", 1), int) else 1,
    ),
}


def names() -> list[str]:
    """Names of the models :func:`get` can build, sorted.

    Examples
    --------
    >>> names()
    ['inception_v3', 'nasnet', 'randwire', 'squeezenet', 'vit_moe']
    """
    return sorted(_ENTRIES)


def _entry(name: object) -> _Entry:
    key = str(name).strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key == "inceptionv3":
        key = "inception_v3"
    if key is None or key not in _ENTRIES:
        hint = ""
        if isinstance(name, str):
            close = difflib.get_close_matches(name.lower(), _ENTRIES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ModelError(
            f"unknown model {name!r}{hint}; valid models: {', '.join(names())}"
        )
    return _ENTRIES[key]


def info(name: str) -> ModelInfo:
    """Describe a model: defaults, minimum input size, options.

    Parameters
    ----------
    name : str
        A name from :func:`names` (case and ``-``/``_`` do not matter).

    Returns
    -------
    ModelInfo

    Raises
    ------
    ModelError
        If the name is unknown; the message lists the valid names.

    Examples
    --------
    >>> info("inception_v3").min_input_size
    75
    >>> sorted(info("squeezenet").options)
    ['num_classes', 'version']
    """
    entry = _entry(name)
    # a fresh options dict, so callers cannot change the registry's
    return replace(entry.info, options=dict(entry.info.options))


def get(
    name: str,
    input_size: int | None = None,
    batch_size: int = 1,
    **options: Any,
) -> ZooModel:
    """Build a model of the zoo, in eval mode, with reproducible weights.

    Parameters
    ----------
    name : str
        A name from :func:`names`.
    input_size : int, optional
        Input height (= width); defaults to the model's
        ``info(name).default_input_size``.
    batch_size : int
        Batch size the model is meant for (kept on the model and used by its
        ``example_input()``).
    **options
        Model options, see ``info(name).options``. Weights are initialised
        from a fixed seed (RandWire's ``seed`` option, else 0), so two calls
        with the same arguments give identical models.

    Returns
    -------
    torch.nn.Module
        The model, in eval mode, with attributes ``input_size``,
        ``batch_size``, ``num_classes`` and a method
        ``example_input(batch_size=None, seed=0)``.

    Raises
    ------
    ModelError
        On an unknown model or option, an input size below the model's
        minimum, ``batch_size < 1`` or an invalid option value.

    Examples
    --------
    >>> model = get("squeezenet", input_size=64, batch_size=2, version="1.1")
    >>> tuple(model(model.example_input()).shape)
    (2, 1000)
    """
    entry = _entry(name)
    model_name = entry.info.name
    valid = entry.info.options
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ModelError(
            f"{model_name}: unknown option {unknown[0]!r}; valid options: {', '.join(valid)}"
        )
    if input_size is None:
        input_size = entry.info.default_input_size
    check_input_size(model_name, input_size, entry.min_input_size(options))
    check_batch_size(model_name, batch_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = entry.build(input_size=input_size, batch_size=batch_size, **options)
    return model.eval()


def example_input(
    model_or_name: nn.Module | str,
    input_size: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """A random input tensor ``(B, 3, H, W)`` for a model, the same for the same seed.

    Parameters
    ----------
    model_or_name : torch.nn.Module or str
        A model built by :func:`get` (its ``input_size``/``batch_size`` are
        the defaults) or a registry name (defaults: the model's default input
        size, batch 1).
    input_size : int, optional
        Height (= width) of the images.
    batch_size : int, optional
        Batch size.
    seed : int
        Seed of a private generator; the global RNG is not touched.

    Returns
    -------
    torch.Tensor
        Standard-normal float32 tensor.

    Raises
    ------
    ModelError
        On an unknown name, a size below the model's minimum, ``batch_size <
        1``, or a module that does not say its input size when none is given.

    Examples
    --------
    >>> tuple(example_input("inception_v3", batch_size=2).shape)
    (2, 3, 299, 299)
    """
    if isinstance(model_or_name, nn.Module):
        label = type(model_or_name).__name__
        if input_size is None:
            input_size = getattr(model_or_name, "input_size", None)
            if input_size is None:
                raise ModelError(
                    f"{label}: the module has no 'input_size' attribute; pass input_size"
                )
        else:
            check_input_size(label, input_size, getattr(model_or_name, "min_input_size", 1))
        if batch_size is None:
            batch_size = getattr(model_or_name, "batch_size", 1)
    else:
        entry = _entry(model_or_name)
        label = entry.info.name
        if input_size is None:
            input_size = entry.info.default_input_size
        check_input_size(label, input_size, entry.info.min_input_size)
        if batch_size is None:
            batch_size = 1
    check_input_size(label, input_size, 1)
    check_batch_size(label, batch_size)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch_size, 3, input_size, input_size), generator=generator)
