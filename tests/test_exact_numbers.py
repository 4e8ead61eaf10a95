"""Extreme numbers that the exact solvers must survive: seeds beyond 32 bits,
and costs far from milliseconds (a delay of 1e15 ms, a latency of 1e300 ms, a
bandwidth of 1e-300 GB/s, a link latency of 1e20 us). Each solver either
answers with a schedule that the evaluator accepts, or refuses with a
:class:`~hios_opt.errors.HiosError` that names the value; never a traceback.
"""

from __future__ import annotations

import pytest

import hios_opt as ho
from hios_opt.cli import main
from hios_opt.errors import OptionError
from hios_opt.exact import MAX_SEED

SOLVERS = ("cpsat", "portfolio", "milp", "milp:cbc", "astar")


@pytest.mark.parametrize("solver", ["cpsat", "portfolio", "milp", "milp:cbc"])
def test_largest_seed_runs(solver):
    r = ho.solve(ho.generators.diamond(), ho.Platform(gpus=2), solver, time_limit=10, workers=2, seed=MAX_SEED)
    assert r.status == "optimal" and r.makespan_ms == 5.0


@pytest.mark.parametrize("seed", [MAX_SEED + 1, 2**64, -1])
def test_seed_beyond_32_bits_is_refused(seed):
    with pytest.raises(OptionError, match=rf"seed must be an integer in 0\.\.{MAX_SEED}, got {seed}"):
        ho.solve(ho.generators.diamond(), ho.Platform(gpus=2), "cpsat", time_limit=10, seed=seed)


def test_cli_seed_beyond_32_bits_is_one_error_line(capsys):
    code = main(["solve", "named:diamond", "--gpus", "2", "--seed", str(2**31), "--time-limit", "5"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and str(2**31) in err
