"""Regenerate the committed fixtures: `python -m ordersync.samples [OUT_DIR] [--orders N]`.

With no arguments it rewrites `fixtures/world/` (run from the repository root). Other output
directories and formats are for ad-hoc worlds and benchmarks.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from ordersync.samples import generate_world, write_big_xlsx

FIXTURE_DIR = Path("fixtures/world")
FIXTURE_ORDERS = 600
FIXTURE_SEED = 7


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ordersync.samples", description=__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=FIXTURE_DIR)
    parser.add_argument("--orders", type=int, default=FIXTURE_ORDERS)
    parser.add_argument("--seed", type=int, default=FIXTURE_SEED)
    parser.add_argument("--formats", choices=("native", "csv", "parquet"), default="native")
    parser.add_argument("--anomaly-rate", type=float, default=None)
    parser.add_argument(
        "--big-xlsx", type=int, metavar="ROWS", help="write one Taobao xlsx of ROWS orders instead"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.big_xlsx:
        path = write_big_xlsx(args.out, rows=args.big_xlsx, seed=args.seed)
        print(f"wrote {path} ({args.big_xlsx} rows) in {time.perf_counter() - started:.1f}s")
        return
    # Start from an empty directory so files of an earlier layout do not linger, but only
    # ever delete something that is recognisably a sample world.
    if args.out.exists() and any(args.out.iterdir()):
        if not (args.out / "truth.csv").exists():
            parser.error(
                f"{args.out} is not empty and not a sample world; choose another directory"
            )
        shutil.rmtree(args.out)
    world = generate_world(
        args.out,
        seed=args.seed,
        orders=args.orders,
        formats=args.formats,
        anomaly_rate=args.anomaly_rate,
    )
    count = sum(len(paths) for paths in world.files.values())
    print(
        f"wrote {world.orders} orders, {count} files to {world.root} in {time.perf_counter() - started:.1f}s"
    )


if __name__ == "__main__":
    main()
