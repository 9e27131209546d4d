"""Matplotlib helpers shared by every report: headless backend, and one way to label and save a figure."""
from __future__ import annotations

from pathlib import Path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (matplotlib is an optional extra, imported here only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path) -> None:
    """Tight layout, write a 120-dpi PNG, release the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)


def finish(fig, ax, path: str | Path, *, xlabel: str, ylabel: str, title: str | None = None,
           legend_size: int = 6, legend_outside: bool = False) -> None:
    """Label ``ax`` (grid, legend; ``legend_outside``: right of the axes, for many curves) and :func:`save` ``fig``
    to ``path``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend_outside:
        ax.legend(fontsize=legend_size, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        ax.legend(fontsize=legend_size)
    save(fig, path)
