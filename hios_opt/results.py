"""The one result schema: the columns of every table the package makes.

``compare``, the demo, ``bench-real``, studies, ``optimize().report()`` and
the notebooks all build their rows with :func:`result_row` and their tables
with :func:`result_frame`, so that the same column always means the same
thing and tables from different tools can be concatenated. The columns, in
order, are :data:`COLUMNS` (problem, result and measurement groups; a tool
leaves out the groups it has nothing for and may append columns of its own,
never renaming these); docs/tables.md says what each one means.

>>> row = result_row(graph="diamond", ops=4, gpus=1, streams=2, algorithm="ios", makespan_ms=6.5,
...                  lower_bound_ms=5.0, speedup=7.0 / 6.5, status="heuristic", time_s=0.01)
>>> row["gap"]
0.3
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "PROBLEM_COLUMNS", "RESULT_COLUMNS", "MEASURE_COLUMNS", "COLUMNS", "HEURISTIC_STATUS", "GAP_TOLERANCE",
    "gap", "prediction_error", "result_row", "result_frame", "format_table", "FORMATS",
]

PROBLEM_COLUMNS = ("graph", "ops", "gpus", "streams")
RESULT_COLUMNS = ("algorithm", "makespan_ms", "lower_bound_ms", "gap", "speedup", "status", "time_s")
MEASURE_COLUMNS = ("predicted_ms", "measured_ms", "prediction_error")
#: Every column of the schema, in order.
COLUMNS = PROBLEM_COLUMNS + RESULT_COLUMNS + MEASURE_COLUMNS

#: ``status`` of a heuristic's row.
HEURISTIC_STATUS = "heuristic"

#: A relative gap below this is reported as 0.0 (float noise of a proven optimum).
GAP_TOLERANCE = 1e-9


def gap(makespan_ms: float | None, lower_bound_ms: float | None) -> float:
    """``(makespan - bound) / bound``; NaN when either is missing or the
    bound is not positive; 0.0 when the two agree within
    :data:`GAP_TOLERANCE` (relative).

    >>> gap(10.0, 8.0), gap(5.0, 5.0 - 5e-10), math.isnan(gap(None, 1.0))
    (0.25, 0.0, True)
    """
    if makespan_ms is None or lower_bound_ms is None:
        return math.nan
    if math.isnan(makespan_ms) or math.isnan(lower_bound_ms) or lower_bound_ms <= 0:
        return math.nan
    value = (makespan_ms - lower_bound_ms) / lower_bound_ms
    return 0.0 if abs(value) < GAP_TOLERANCE else value


def prediction_error(measured_ms: float | None, predicted_ms: float | None) -> float:
    """``(measured - predicted) / predicted``: positive when the run was
    slower than predicted; NaN when either is missing or the prediction is
    not positive.

    >>> prediction_error(1.1, 1.0) > 0, prediction_error(0.9, 1.0) < 0
    (True, True)
    """
    if measured_ms is None or predicted_ms is None or not predicted_ms > 0 or math.isnan(measured_ms):
        return math.nan
    return (measured_ms - predicted_ms) / predicted_ms


def result_row(**values: Any) -> dict[str, Any]:
    """One row of the schema: the given columns in schema order, then any
    extra ones in the order given. ``gap`` is computed from ``makespan_ms``
    and ``lower_bound_ms`` when not given, ``prediction_error`` from
    ``measured_ms`` and ``predicted_ms``."""
    if "gap" not in values and "makespan_ms" in values and "lower_bound_ms" in values:
        values["gap"] = gap(values["makespan_ms"], values["lower_bound_ms"])
    if "prediction_error" not in values and "measured_ms" in values and "predicted_ms" in values:
        values["prediction_error"] = prediction_error(values["measured_ms"], values["predicted_ms"])
    row = {key: values[key] for key in COLUMNS if key in values}
    row.update((key, value) for key, value in values.items() if key not in row)
    return row


def result_frame(rows: Iterable[Mapping[str, Any]], **attrs: Any) -> Any:
    """A pandas DataFrame of schema rows: schema columns first (in order),
    then the others; ``attrs`` go to ``df.attrs`` (pandas drops them on
    ``concat``: the problem's columns are in every row for that reason)."""
    import pandas as pd

    rows = [dict(r) for r in rows]
    present = [c for c in COLUMNS if any(c in r for r in rows)]
    extra: list[str] = []
    for r in rows:
        extra.extend(k for k in r if k not in COLUMNS and k not in extra)
    df = pd.DataFrame(rows, columns=present + extra)
    df.attrs.update(attrs)
    return df


def _number(fmt: str) -> Any:
    def show(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return fmt.format(value)

    return show


#: How :func:`format_table` shows each schema column (others: pandas' default).
FORMATS = {
    "makespan_ms": _number("{:.4f}"),
    "lower_bound_ms": _number("{:.4f}"),
    "gap": _number("{:.2%}"),
    "speedup": _number("{:.2f}"),
    "time_s": _number("{:.3f}"),
    "predicted_ms": _number("{:.3f}"),
    "measured_ms": _number("{:.3f}"),
    "prediction_error": _number("{:+.1%}"),
}


def format_table(table: Any, columns: Iterable[str] | None = None) -> str:
    """A schema table as aligned text: times in ms with fixed decimals, ``gap``
    and ``prediction_error`` as percentages, missing values as ``-``. The
    data keep full precision; only the text rounds.

    >>> print(format_table(result_frame([result_row(algorithm="hios-lp", makespan_ms=4.6, lower_bound_ms=4.45,
    ...                                             speedup=1.826, time_s=0.0012)])))
    algorithm makespan_ms lower_bound_ms   gap speedup time_s
      hios-lp      4.6000         4.4500 3.37%    1.83  0.001
    """
    shown = table if columns is None else table[[c for c in columns if c in table.columns]]
    formatters = {c: f for c, f in FORMATS.items() if c in shown.columns}
    return shown.to_string(index=False, formatters=formatters, na_rep="-")
