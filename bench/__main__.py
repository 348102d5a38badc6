"""`python -m bench [NAME ...] [--quick]`: run the benchmarks, print the results.

Each benchmark is a module of this package with `run(args) -> bool` (True: it held its
claim) and, optionally, `add_arguments(parser)`. Add new ones to BENCHMARKS. `--quick`
shrinks every benchmark (fewer runs, smaller tables) for a check in about a minute and a
half; the numbers in docs/performance.md come from the full run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from bench import environment

BENCHMARKS: tuple[str, ...] = (
    "cold_start",
    "round_trips",
    "login_latency",
    "search_scaling",
    "sender",
    "write_units",
)
QUICK_SIZES = [2000, 6000]


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("sizes are integers, e.g. 2000,20000") from None
    if not sizes or any(size < 1 for size in sizes) or sizes != sorted(set(sizes)):
        raise argparse.ArgumentTypeError("sizes are growing positive integers, e.g. 2000,20000")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run the benchmarks and print their results."
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="search_scaling: table sizes to grow through, comma-separated "
        "(default: 2000,20000; with --quick: 2000,6000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer runs and smaller tables: a quick check, not the numbers to report",
    )
    parser.add_argument("--seed", type=int, default=20260101, help="random seed (fixed)")
    # portal_accounts reads its table names at import: the environment comes first.
    environment.prepare()
    modules = {name: importlib.import_module(f"bench.{name}") for name in BENCHMARKS}
    for module in modules.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = QUICK_SIZES if args.quick else [2000, 20000]
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    results = {}
    started_all = time.perf_counter()
    for name in args.names or BENCHMARKS:
        print(f"=== bench {name}", flush=True)
        started = time.perf_counter()
        results[name] = bool(modules[name].run(args))
        print(
            f"=== bench {name}: {'PASS' if results[name] else 'FAIL'} "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    print(
        "=== bench: "
        + ", ".join(f"{name} {'PASS' if ok else 'FAIL'}" for name, ok in results.items())
        + f" in {time.perf_counter() - started_all:.0f} s",
        flush=True,
    )
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
