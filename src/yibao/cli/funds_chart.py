"""The chart of ``yibao funds analysis --chart FILE.png``: each fund's balance at the end of
every month (upper panel, yuan) and its reserve months (lower panel), drawn with matplotlib's
Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

from yibao.services.fund_analysis import Analysis


def render(analysis: Analysis, path: Path) -> int:
    """Write the chart of ``analysis`` to ``path`` (PNG); returns the number of funds drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), sharex=True)
    drawn = 0
    for line in analysis.lines:
        if not line.months:
            continue
        label = f"{line.fund.value} {line.area or '-'}"
        months = [m.month for m in line.months]
        top.plot(months, [m.balance / 100 for m in line.months], marker="o", label=label)
        reserve = [
            (m.month, float(m.reserve_months)) for m in line.months if m.reserve_months is not None
        ]
        if reserve:
            bottom.plot(*zip(*reserve, strict=True), marker="o", label=label)
        drawn += 1
    where = f" {analysis.area}" if analysis.area else ""
    top.set_title(f"Fund balances{where} {analysis.year} (end of month, yuan)")
    top.ticklabel_format(axis="y", style="plain", useOffset=False)
    bottom.set_title("Reserve months (balance ÷ monthly expenditure of the last 12 months)")
    bottom.set_xlabel("month")
    bottom.set_xticks(range(1, 13))
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
        if drawn:
            ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return drawn
