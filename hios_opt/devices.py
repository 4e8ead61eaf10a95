"""Devices: which ones exist here, one check for every entry point, threads.

:func:`check_device` is the one device check of the package (``optimize()``,
``bench_real``, the profiler's and the executor's command lines): a device
that does not exist is refused with a :class:`~hios_opt.errors.DeviceError`
that lists :func:`available_devices`. :func:`device_kind` names a device's
hardware (``"cpu"``, or the GPU's model), which decides whether a measured
schedule still holds; :func:`torch_threads` sets torch's intra-op thread
count for a block. torch is imported inside the functions, so importing this
module (the command line does) stays cheap.

>>> str(check_device("CPU"))
'cpu'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .checks import check_int
from .errors import DeviceError, HiosError

__all__ = ["available_devices", "check_device", "device_kind", "torch_threads"]


def _torch_module() -> Any:
    from . import _torch  # without torch: an error naming the [torch] extra

    return _torch.torch


def available_devices() -> list[str]:
    """The devices torch can run on here: ``"cpu"``, then ``"cuda:k"`` for
    every visible GPU, with its model in parentheses.

    >>> available_devices()[:1]
    ['cpu']
    """
    torch = _torch_module()

    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{k} ({torch.cuda.get_device_name(k)})" for k in range(torch.cuda.device_count())]
    return out


def _listing() -> str:
    return "devices here: " + ", ".join(available_devices())


def check_device(device: Any, *, error: type[HiosError] = DeviceError) -> Any:
    """The ``torch.device`` for ``device`` if it exists on this machine.

    Parameters
    ----------
    device : str, int or torch.device
        ``"cpu"``, ``"cuda"`` (the current GPU), ``"cuda:k"``, an int ``k``
        (``cuda:k``) or a ``torch.device``. Case and blanks do not matter.
    error : HiosError subclass
        The exception to raise (the profiler raises ``ProfileError``).

    Returns
    -------
    torch.device
        ``cuda`` without an index stays without one.

    Raises
    ------
    DeviceError
        An unknown device, CUDA without a visible GPU, or a GPU index that
        does not exist; the message lists the devices there are.

    Examples
    --------
    >>> check_device("tpu")
    Traceback (most recent call last):
    ...
    hios_opt.errors.DeviceError: unknown device 'tpu'; devices here: cpu
    """
    torch = _torch_module()

    try:
        if isinstance(device, bool):
            raise TypeError
        if isinstance(device, int):
            dev = torch.device("cuda", device)
        elif isinstance(device, str):
            dev = torch.device(device.strip().lower())
        elif isinstance(device, torch.device):
            dev = device
        else:
            raise TypeError
    except (RuntimeError, TypeError, ValueError):
        raise error(f"unknown device {device!r}; {_listing()}") from None
    if dev.type not in ("cpu", "cuda"):
        raise error(f"unknown device {device!r}; {_listing()}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise error(
                f"device {device!r} is not available: no CUDA GPU is visible to torch {torch.__version__} "
                f"(built with CUDA {torch.version.cuda or 'none'}); {_listing()}"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise error(f"device {device!r} is not available: it does not exist; {_listing()}")
    return dev


def device_kind(device: Any) -> str:
    """The hardware behind ``device``: ``"cpu"`` or ``"cuda:<GPU model>"``.

    A schedule measured on one kind is re-checked on another (two H100s are
    one kind; an H100 and an A100 are two).

    >>> device_kind("cpu")
    'cpu'
    """
    torch = _torch_module()

    dev = check_device(device)
    if dev.type == "cpu":
        return "cpu"
    index = torch.cuda.current_device() if dev.index is None else dev.index
    return f"cuda:{torch.cuda.get_device_name(index)}"


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run a block with ``threads`` intra-op threads (``None``: unchanged);
    the caller's count is restored afterwards. Yields the count in force.

    The setting is per thread of the interpreter (each executor worker sets
    its own).

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1) as n:
    ...     n, torch.get_num_threads()
    (1, 1)
    >>> torch.get_num_threads() == before
    True
    """
    torch = _torch_module()

    check_int(threads, "threads", min_value=1, none_ok=True)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
