"""Series out of the benchmarks: CSV always, PNG plots when matplotlib is installed.

matplotlib is optional (``pip install -e '.[bench]'``); without it ``plot_timeseries`` writes nothing
and returns False, and the CSV files carry the same series. Plots use the non-interactive Agg backend.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

Series = dict[str, Sequence[float]]


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_csv(path: Path, columns: Series) -> Path:
    """One column per key, one row per sample (the columns have equal lengths)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    if any(len(columns[k]) != n for k in names):
        raise ValueError("columns of unequal length")
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        for i in range(n):
            w.writerow([_fmt(columns[k][i]) for k in names])
    return path


def _fmt(v: float) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def plot_timeseries(path: Path, title: str, t: Sequence[float],
                    panels: Sequence[tuple[str, Series]]) -> bool:
    """Stacked panels sharing the time axis: each panel is (y label, {legend: values}).
    Returns False (and writes nothing) when matplotlib is missing."""
    if not have_matplotlib():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(9, 2.6 * len(panels)), squeeze=False)
    for ax, (label, series) in zip(axes[:, 0], panels, strict=True):
        for name, values in series.items():
            ax.plot(t, values, label=name, linewidth=0.9)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if len(series) > 1:
            ax.legend(loc="upper right", fontsize="small")
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("virtual time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
