"""Shared fixtures and hypothesis profiles."""

from __future__ import annotations

import os

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# CI must be deterministic: derandomize hypothesis and bound its time.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def diamond():
    from hios_opt import generators

    return generators.diamond()


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler during the test, as in a terminal, even when
    the test run started with SIGINT ignored (a background job inherits that),
    so that tests of what follows a Ctrl-C do not depend on how pytest was started."""
    import signal

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
