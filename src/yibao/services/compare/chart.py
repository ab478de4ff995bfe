"""Coverage against the targets as a chart (PNG, matplotlib's Agg backend): one bar per row of
the coverage table (overall, groups, areas, age bands, sex), the target of each as a tick, bars
below their target in red."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_chart(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Horizontal bars of the insured share (%) with each row's target. Returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    shown = [r for r in rows if r["rate"] is not None]
    labels = [f"{r['dimension']}: {r['value']} ({r['population']:,})" for r in shown]
    rates = [100 * r["rate"] for r in shown]
    colours = ["#c44e52" if r["meets"] is False else "#4c72b0" for r in shown]
    y = list(range(len(shown)))
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.32 * len(shown) + 1.2)))
    try:
        ax.barh(y, rates, color=colours)
        for i, r in enumerate(shown):
            if r["target"] is not None:
                t = 100 * r["target"]
                ax.plot([t, t], [i - 0.42, i + 0.42], color="black", linewidth=1.5)
            ax.text(min(rates[i], 99.5), i, f" {rates[i]:.2f}%", va="center", fontsize=7)
        low = min([*rates, *(100 * r["target"] for r in shown if r["target"])], default=90)
        ax.set_xlim(max(0.0, low - 5), 100.5)
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("insured, % of the household registry's living people (| target)")
        ax.set_title(title)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path
