"""Fee detail lines checked per second by the year's supervision run over a generated area.

    python bench/supervise.py [--persons 200000] [--chunk-size 50000] [--irregular 0.01]
                              [--threads 2] [--area DIR]

Generates the area (not timed; with ``--irregular`` planted irregularities and their ground
truth) unless ``--area`` names one, then times ``services.supervision.area.supervise_area``:
reading the persons, claims and lines parts, classifying the lines against the catalogue and
running every rule of the region's catalogue, parts on ``--threads`` threads. Prints the
findings per rule with recall and false positives (cases found that were not planted). Last
line: ``lines/s: <n>``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from yibao.services.supervision.area import read_truth, score, supervise_area
from yibao.synth.config import SynthConfig
from yibao.synth.writer import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--chunk-size", type=int, default=50_000)
    ap.add_argument("--irregular", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--region", default="360100")
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--area", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        area = args.area
        if area is None:
            area = Path(tmp)
            config = SynthConfig(
                args.region, args.persons, args.year, 1, args.chunk_size, args.irregular
            )
            generate(area, config)
        region = json.loads((area / "meta.json").read_text())["region"]
        supervise_area(area, region, args.year, args.threads)  # warm (imports, catalogue)
        start = time.perf_counter()
        run = supervise_area(area, region, args.year, args.threads)
        seconds = time.perf_counter() - start
        print(f"{run.visits} visits, {run.lines} lines in {seconds:.2f} s")
        if (area / "truth").is_dir():
            for s in score(run, read_truth(area)):
                print(
                    f"{s.rule:<18} planted {s.planted:>6} found {s.found:>6} "
                    f"recall {s.recall:.3f} findings {s.findings:>7} "
                    f"not planted {s.false_positives}"
                )
        print(f"lines/s: {round(run.lines / seconds)}")


if __name__ == "__main__":
    main()
