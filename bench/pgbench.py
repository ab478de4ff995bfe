"""PostgreSQL's own pgbench (TPC-B-like) on the same machine: the anchor quality.md sets the
2207 over HTTP against (``bench/api_load.py``: at least as many settlements a second as pgbench
has transactions a second with 32 clients).

    python bench/pgbench.py [--host 127.0.0.1] [--port 5432] [--user postgres]
                            [--scale 32] [--clients 32] [--threads 2] [--seconds 20]

Creates a scratch database ``yibao_pgbench`` (dropped at the end), initialises it at
``--scale`` (32: 3.2 million accounts and 32 branches, at least one a client as pgbench's
documentation advises, so that the clients do not queue on a few branch rows), then runs the
built-in TPC-B-like script (per transaction: three UPDATEs, a SELECT and an INSERT, committed)
with ``--clients`` clients over ``--threads`` threads for ``--seconds`` seconds, prepared
statements. pgbench's clients run on this machine as the API bench's load generator does.
Last line: ``tps: <n>`` (transactions a second, without the initial connection time).
"""

from __future__ import annotations

import argparse
import re
import subprocess

DATABASE = "yibao_pgbench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--scale", type=int, default=32)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    where = ["-h", args.host, "-p", args.port, "-U", args.user]
    subprocess.run(["dropdb", *where, "--if-exists", DATABASE], check=True)
    subprocess.run(["createdb", *where, DATABASE], check=True)
    try:
        subprocess.run(
            ["pgbench", *where, "-i", "-q", "-s", str(args.scale), DATABASE],
            check=True,
            capture_output=True,
        )
        clients = ["-c", str(args.clients), "-j", str(args.threads), "-T", str(args.seconds)]
        run = subprocess.run(
            ["pgbench", *where, "-M", "prepared", *clients, DATABASE],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        subprocess.run(["dropdb", *where, "--if-exists", DATABASE], check=True)
    print(run.stdout.strip())
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    if found is None:
        raise SystemExit("pgbench printed no tps")
    print(f"tps: {float(found.group(1)):.0f}")


if __name__ == "__main__":
    main()
