"""A DIP year-end as a chart (PNG, matplotlib's Agg backend): each institution's points, and
what the fund advanced during the year beside what it is due at the point value."""

from __future__ import annotations

from pathlib import Path

from yibao.services.dip_year import YearEnd


def write_chart(found: YearEnd, path: Path) -> Path:
    """Two panels by institution: points; advanced and fund due (yuan). Returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    codes = [i.institution for i in found.institutions]
    x = list(range(len(codes)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 0.6 * len(codes) + 3), 7))
    try:
        top.bar(x, [i.points / 10_000 for i in found.institutions], color="#4c72b0")
        top.set_ylabel("points")
        top.set_title(f"DIP year-end {found.year}, area {found.area}")
        w = 0.4
        bottom.bar(
            [v - w / 2 for v in x],
            [i.advanced / 100 for i in found.institutions],
            w,
            label="advanced",
            color="#999999",
        )
        bottom.bar(
            [v + w / 2 for v in x],
            [i.fund_due / 100 for i in found.institutions],
            w,
            label="fund due",
            color="#dd8452",
        )
        bottom.set_ylabel("yuan")
        bottom.legend()
        for ax in (top, bottom):
            ax.set_xticks(x, codes, rotation=45, ha="right")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path
