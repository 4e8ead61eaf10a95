"""Vision transformer with Soft MoE layers (Puigcerver et al., "From Sparse to
Soft Mixtures of Experts", ICLR 2024, arXiv:2308.00951).

A current multi-branch model: its parallelism is not a 2018 CNN's branches
of convolutions but the experts of a mixture-of-experts layer, which trace
into independent branches. :class:`VitMoE` variants (``dim``, ``depth``,
``heads``): ``tiny`` (192, 6, 3, the default), ``small`` (384, 8, 6),
``base`` (768, 12, 12), with 8 experts of one slot each in the second half of
the blocks, as in the paper's Soft MoE models. The architecture is in the
Notes of :class:`VitMoE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from hios_opt.errors import ModelError
from hios_opt.models.blocks import ZooModel, check_batch_size, check_input_size, check_positive_int

__all__ = ["VitMoE", "SoftMoE", "Variant", "VARIANTS", "MIN_INPUT_SIZE"]


@dataclass(frozen=True)
class Variant:
    """Width, depth and heads of a ViT variant."""

    dim: int
    depth: int
    heads: int


VARIANTS: dict[str, Variant] = {
    "tiny": Variant(dim=192, depth=6, heads=3),
    "small": Variant(dim=384, depth=8, heads=6),
    "base": Variant(dim=768, depth=12, heads=12),
}

#: One patch of the default 16 pixels (the option ``patch_size`` sets its own minimum).
MIN_INPUT_SIZE = 16


class Mlp(nn.Sequential):
    """``dim -> hidden -> dim`` with GELU between: a dense block's MLP and one expert."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class Attention(nn.Module):
    """Multi-head self-attention: one fused q/k/v projection, scaled dot-product attention, output projection.

    Examples
    --------
    >>> tuple(Attention(32, 4)(torch.zeros(2, 5, 32)).shape)
    (2, 5, 32)
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, N, 3D) -> (3, B, heads, N, D / heads); no shape is read, so the
        # traced graph has no edge from x's producer besides the projection's
        q, k, v = self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4).unbind(0)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).flatten(2))


class SoftMoE(nn.Module):
    """Soft mixture of experts: ``experts`` MLPs, each on ``slots`` soft slots.

    Parameters
    ----------
    dim : int
        Token width.
    hidden : int
        Hidden width of each expert.
    experts : int
        Number of experts (parallel branches of the traced graph).
    slots : int
        Slots per expert.

    Examples
    --------
    >>> moe = SoftMoE(16, 32, experts=4, slots=2)
    >>> tuple(moe(torch.zeros(3, 10, 16)).shape)
    (3, 10, 16)
    """

    def __init__(self, dim: int, hidden: int, experts: int, slots: int) -> None:
        super().__init__()
        self.experts_count, self.slots = experts, slots
        self.phi = nn.Parameter(torch.randn(dim, experts * slots) * dim**-0.5)
        self.experts = nn.ModuleList(Mlp(dim, hidden) for _ in range(experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.matmul(x, self.phi)  # (B, N, E*S)
        dispatch = torch.softmax(logits, dim=1)  # over tokens
        combine = torch.softmax(logits, dim=2)  # over slots
        slots = torch.matmul(dispatch.transpose(1, 2), x)  # (B, E*S, D)
        outputs = [
            expert(slots[:, i * self.slots:(i + 1) * self.slots]) for i, expert in enumerate(self.experts)
        ]
        return torch.matmul(combine, torch.cat(outputs, dim=1))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``
    (``mlp`` a dense MLP or a :class:`SoftMoE`)."""

    def __init__(self, dim: int, heads: int, mlp: nn.Module) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = mlp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VitMoE(ZooModel):
    """ViT with Soft MoE layers in its last ``moe_blocks`` blocks.

    Parameters
    ----------
    input_size : int
        Height (= width) of the input; at least ``patch_size``. The token
        grid is ``input_size // patch_size`` on each side (the border that
        does not fill a patch is dropped, as a strided convolution does).
    batch_size : int
        Batch size the model is meant to run at.
    num_classes : int
        Number of output logits.
    variant : {"tiny", "small", "base"}
        Width, depth and heads (module docstring).
    experts : int
        Experts per MoE layer (default 8).
    slots_per_expert : int
        Slots each expert processes (default 1).
    moe_blocks : int, optional
        How many of the last blocks are Soft MoE (default: half of them).
    patch_size : int
        Patch side in pixels (default 16).
    mlp_ratio : int
        Hidden width of MLPs and experts, in multiples of the width (default 4).

    Raises
    ------
    ModelError
        On an unknown variant, an input smaller than one patch, or an option
        out of range.

    Notes
    -----
    The image is cut into ``patch_size`` patches (a strided convolution) with a
    learned position embedding; then ``depth`` pre-norm transformer blocks
    (multi-head self-attention, then an MLP), of which the last ``moe_blocks``
    replace the MLP by a Soft MoE layer; a final LayerNorm, mean pooling over the
    tokens and a linear classifier (the paper pools with an attention head; the
    mean keeps the model small).

    Soft MoE (:class:`SoftMoE`): every expert sees ``slots_per_expert`` slots,
    each a softmax-weighted average of all tokens (dispatch weights, a softmax
    over tokens of ``X @ phi``); each expert is an MLP (``dim -> mlp_ratio * dim
    -> dim``, GELU) run on its own slots; every output token is a
    softmax-weighted average of all slot outputs (combine weights, a softmax over
    slots of the same logits). No routing is discrete, so the layer traces into a
    static graph whose experts are independent branches between the dispatch and
    the combine: ``experts`` of them per MoE block.

    Examples
    --------
    >>> model = VitMoE(input_size=32, variant="tiny", experts=4, num_classes=10)
    >>> tuple(model(model.example_input()).shape)
    (1, 10)
    >>> sum(isinstance(m, SoftMoE) for m in model.modules())
    3
    """

    def __init__(
        self,
        input_size: int = 224,
        batch_size: int = 1,
        num_classes: int = 1000,
        variant: str = "tiny",
        experts: int = 8,
        slots_per_expert: int = 1,
        moe_blocks: int | None = None,
        patch_size: int = 16,
        mlp_ratio: int = 4,
    ) -> None:
        name = "vit_moe"
        if not isinstance(variant, str) or variant not in VARIANTS:
            raise ModelError(f"{name}: unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}")
        spec = VARIANTS[variant]
        check_positive_int(name, "patch_size", patch_size)
        check_input_size(name, input_size, patch_size)
        check_batch_size(name, batch_size)
        check_positive_int(name, "num_classes", num_classes)
        check_positive_int(name, "experts", experts)
        check_positive_int(name, "slots_per_expert", slots_per_expert)
        check_positive_int(name, "mlp_ratio", mlp_ratio)
        if moe_blocks is None:
            moe_blocks = spec.depth // 2
        check_positive_int(name, "moe_blocks", moe_blocks, minimum=0)
        if moe_blocks > spec.depth:
            raise ModelError(f"{name}: option 'moe_blocks' must be at most the depth {spec.depth}, got {moe_blocks}")
        super().__init__(input_size, batch_size, num_classes, patch_size)
        self.variant = variant
        dim, hidden = spec.dim, mlp_ratio * spec.dim
        tokens = (input_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(3, dim, patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*(
            Block(dim, spec.heads,
                  SoftMoE(dim, hidden, experts, slots_per_expert) if k >= spec.depth - moe_blocks
                  else Mlp(dim, hidden))
            for k in range(spec.depth)
        ))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x.mean(dim=1))
