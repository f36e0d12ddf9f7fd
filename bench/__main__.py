"""Run benchmarks: ``python -m bench`` runs all of them, ``python -m bench matcher`` one."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import e2e, matcher

BENCHMARKS: dict[str, Callable[[list[str]], None]] = {
    "matcher": matcher.main,
    "e2e": e2e.main,
}


def main(argv: list[str]) -> int:
    # Names come first; everything from the first option on goes to the benchmarks.
    first_option = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:first_option] or list(BENCHMARKS), argv[first_option:]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        BENCHMARKS[name](options)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
