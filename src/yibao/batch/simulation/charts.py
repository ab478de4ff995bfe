"""The simulation's charts (matplotlib, Agg backend, PNG): the funds' result by scheme, household
burden by income quintile, and each reform's winners and losers by quintile."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

SCHEMES = ("employee", "resident")


def _yuan(value: str) -> float:
    return float(Decimal(value))


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _scenarios(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("baseline", report["baseline"])] + [
        (r["name"], r["totals"]) for r in report["reforms"]
    ]


def fund_balance(report: dict[str, Any], path: Path) -> Path:
    """Grouped bars: the year's fund result (contributions − account credits − hifp − hifmi −
    hifob) by scheme and in all, baseline and each reform, in 10,000 yuan."""
    plt = _plt()
    groups = [*SCHEMES, "all"]
    scenarios = _scenarios(report)
    width = 0.8 / len(scenarios)
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, (name, totals) in enumerate(scenarios):
        values = [
            _yuan(
                totals["by_scheme"][g]["fund_balance"] if g in SCHEMES else totals["fund_balance"]
            )
            / 10_000
            for g in groups
        ]
        xs = [j + (i - (len(scenarios) - 1) / 2) * width for j in range(len(groups))]
        ax.bar(xs, values, width, label=name)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("10,000 yuan")
    ax.set_title(f"Fund result {report['year']} (contributions − account credits − fund payments)")
    ax.legend(fontsize="small")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def burden(report: dict[str, Any], path: Path) -> Path | None:
    """Per income quintile: the share of households whose out-of-pocket is above 10% and 25%
    of their income (SDG 3.8.2), baseline and each reform. None without household income."""
    if not report["burden_measured"]:
        return None
    plt = _plt()
    sizes = [q["households"] for q in report["quintiles"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    quintiles = range(1, len(sizes) + 1)
    for ax, key, label in zip(
        axes,
        ("households_over_10pct", "households_over_25pct"),
        ("above 10% of income", "above 25% of income"),
        strict=True,
    ):
        for name, totals in _scenarios(report):
            shares = [
                100 * q[key] / n if n else 0.0
                for q, n in zip(totals["burden_by_quintile"], sizes, strict=True)
            ]
            ax.plot(quintiles, shares, marker="o", label=name)
        ax.set_title(f"households with out-of-pocket {label}")
        ax.set_xlabel("income quintile (1: poorest fifth)")
        ax.set_xticks(list(quintiles))
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("% of the quintile's households")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def winners_losers(report: dict[str, Any], path: Path) -> Path | None:
    """Per reform: households better off (up) and worse off (down) by income quintile, or in
    all when the area has no household income. None without reforms."""
    reforms = report["reforms"]
    if not reforms:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(reforms), figsize=(5 * len(reforms), 4.5), squeeze=False)
    for ax, r in zip(axes[0], reforms, strict=True):
        affected = r["affected"]
        rows = affected["by_quintile"] or [
            {
                "quintile": "all",
                "better_off": affected["households_better_off"],
                "worse_off": affected["households_worse_off"],
            }
        ]
        labels = [str(q["quintile"]) for q in rows]
        ax.bar(labels, [q["better_off"] for q in rows], color="tab:green", label="better off")
        ax.bar(labels, [-q["worse_off"] for q in rows], color="tab:red", label="worse off")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(r["name"])
        ax.set_xlabel("income quintile" if affected["by_quintile"] else "")
        ax.set_ylabel("households")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("Who gains: out-of-pocket + own contributions, reform against baseline")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def draw(report: dict[str, Any], out: Path) -> list[Path]:
    """Every chart of the report into ``out``; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    drawn = [
        fund_balance(report, out / "fund_balance.png"),
        burden(report, out / "burden_by_quintile.png"),
        winners_losers(report, out / "winners_losers.png"),
    ]
    return [p for p in drawn if p is not None]
