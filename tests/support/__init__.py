"""Shared test support: graph builders, hypothesis strategies, random
schedules, small torch nets, bad-input corpus and mutator, benchmark
instances. Test modules import from here, never from each other.

* :mod:`.graphs` -- random layered graphs that always exist (the edge count
  walks to the nearest feasible one), tiny graphs for exact solvers.
* :mod:`.strategies` -- hypothesis strategies: layered graphs, odd graphs
  (unicode ids, extreme floats), platforms.
* :mod:`.schedules` -- random valid schedules of an :class:`~hios_opt.OpGraph`.
* :mod:`.nets` -- small torch models and a random schedule of a traced graph
  (imports torch).
* :mod:`.bad_inputs` -- the malformed-file corpus (``tests/data/bad``) and the
  JSON mutation fuzzer.
* :mod:`.benchmarks` -- the public instances with published optima
  (``tests/data/exact``).
* :mod:`.determinism` -- digests of every deterministic output.
"""
