"""What every bench computes the same way, so their figures can be compared."""

from __future__ import annotations

import resource
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def percentile(values: Sequence[float], q: float, digits: int = 1) -> float | None:
    """The `q` quantile of `values` (0.5 is the median, 0.99 is p99), rounded to `digits`;
    None (JSON null) when there is nothing to measure.

    numpy's default method, linear interpolation between the two nearest ranks: the same for
    any sample size, where picking one element by a hand-computed index was off by one rank
    in some benches and not in others.
    """
    if len(values) == 0:
        return None
    return round(float(np.percentile(values, q * 100)), digits)


def peak_rss_mb() -> float:
    """This process's own peak resident memory in MB.

    Linux's VmHWM belongs to the running program: unlike getrusage's ru_maxrss, which a
    spawned worker inherits from its parent across fork and exec, so every worker would
    report at least the parent's size. Elsewhere ru_maxrss is the best there is.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, else KiB
