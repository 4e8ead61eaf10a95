"""Model zoo: PyTorch definitions of the HIOS benchmark CNNs.

Inception-v3, NASNet-A, RandWire-WS and SqueezeNet (the HIOS paper's CNNs)
and a vision transformer with Soft MoE layers (parallel experts), built by
name, in eval mode, traceable by :func:`torch.fx.symbolic_trace`. Importing this package
imports torch (``import hios_opt`` alone does not).

Examples
--------
>>> import hios_opt.models as zoo
>>> zoo.names()
['inception_v3', 'nasnet', 'randwire', 'squeezenet', 'vit_moe']
>>> model = zoo.get("squeezenet", input_size=64)
>>> tuple(model(model.example_input()).shape)
(1, 1000)
"""

from __future__ import annotations

from hios_opt import _torch  # noqa: F401  (first: without torch, an error naming the [torch] extra)

# isort: split
from hios_opt.models.inception_v3 import InceptionV3
from hios_opt.models.nasnet import NASNetA
from hios_opt.models.randwire import RandWire
from hios_opt.models.registry import ModelInfo, example_input, get, info, names
from hios_opt.models.squeezenet import SqueezeNet
from hios_opt.models.vit_moe import VitMoE

__all__ = [
    "ModelInfo",
    "get",
    "names",
    "info",
    "example_input",
    "InceptionV3",
    "NASNetA",
    "RandWire",
    "SqueezeNet",
    "VitMoE",
]
