"""Run any schedule of a traced model for real: CPU threads, CUDA streams, or
``torch.distributed`` ranks, all from one :class:`Plan`.

>>> import torch
>>> from torch import nn
>>> from hios_opt import Schedule
>>> from hios_opt.trace import trace
>>> from hios_opt.executor import compile, run
>>> net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
>>> traced = trace(net, torch.zeros(1, 8))
>>> plan = compile(traced, Schedule.from_gpu_lists([["_0"], ["_2"]]))
>>> m = run(plan, torch.ones(1, 8), backend="cpu", warmup=1, repeat=3)
>>> torch.allclose(m.outputs, net(torch.ones(1, 8)))
True
"""

from __future__ import annotations

from hios_opt import _torch  # noqa: F401  (first: without torch, an error naming the [torch] extra)

# isort: split
from hios_opt.executor.cpu import CpuExecutor, RunRecord
from hios_opt.executor.cuda import CudaExecutor, StreamEngine, SyncStreams
from hios_opt.executor.distributed import ModelSpec, run_distributed
from hios_opt.executor.measure import BACKENDS, run
from hios_opt.executor.plan import Plan, PlannedOp, PlanStage, RemoteInput, compile
from hios_opt.executor.records import Measurement, OpTiming, StageRecord

__all__ = [
    "compile", "Plan", "PlannedOp", "PlanStage", "RemoteInput",
    "run", "Measurement", "OpTiming", "StageRecord", "BACKENDS",
    "CpuExecutor", "CudaExecutor", "StreamEngine", "SyncStreams", "RunRecord",
    "run_distributed", "ModelSpec",
]
