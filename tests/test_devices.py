"""The one device check: devices that exist, the message for those that do not, threads."""

from __future__ import annotations

import pytest
import torch

from hios_opt.devices import available_devices, check_device, device_kind, torch_threads
from hios_opt.errors import DeviceError, OptionError, ProfileError


def test_devices_that_exist() -> None:
    assert check_device(" CPU ") == torch.device("cpu")
    assert check_device(torch.device("cpu")) == torch.device("cpu")
    assert available_devices()[0] == "cpu" and device_kind("cpu") == "cpu"
    if torch.cuda.is_available():
        assert check_device(0) == torch.device("cuda", 0)
        assert device_kind("cuda:0").startswith("cuda:")


@pytest.mark.parametrize("device", ["tpu", "cuda:99", 99, True, 1.5, None, "cpu:x"])
def test_devices_that_do_not_exist_list_those_that_do(device) -> None:
    with pytest.raises(DeviceError, match="devices here: cpu"):
        check_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu() -> None:
    with pytest.raises(DeviceError, match="'cuda' is not available: no CUDA GPU is visible"):
        check_device("cuda")
    with pytest.raises(ProfileError, match="devices here: cpu"):
        check_device("cuda:0", error=ProfileError)


def test_torch_threads_restores_the_count_even_on_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), torch_threads(1) as n:
        assert n == 1 == torch.get_num_threads()
        raise RuntimeError
    assert torch.get_num_threads() == before
    with torch_threads(None) as n:
        assert n == before
    with pytest.raises(OptionError, match="threads"), torch_threads(0):
        pass
