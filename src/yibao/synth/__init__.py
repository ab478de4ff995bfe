"""Synthetic pooling area (统筹地区): persons, households and a year of claims, from a seed.

``generate(out, SynthConfig(...))`` writes Parquet parts; ``summarize(out)`` compares the key
figures with the published national ones. See docs/synthetic-data.md for every distribution.
"""

from yibao.synth.config import SynthConfig
from yibao.synth.summary import draw_chart, fund_ratio, summarize
from yibao.synth.writer import Manifest, generate

__all__ = ["Manifest", "SynthConfig", "draw_chart", "fund_ratio", "generate", "summarize"]
