"""The multi-agent assistant's benchmark: every part in one run, printed side by side with
its baseline.

- graph overhead per turn vs a direct model call with the same scripted model
  (`agents_graph.py`);
- intent accuracy of the rule + embedding stages on a labelled set (`agents_intent.py`);
- memory recall@5 and stale/duplicate share over a multi-session set (`agents_memory.py`);
- product search nDCG@10, hybrid vs plain keyword search (`agents_products.py`).

    python bench/agents.py [--only graph,intent,memory,products]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PARTS = {
    "graph": "agents_graph",
    "intent": "agents_intent",
    "memory": "agents_memory",
    "products": "agents_products",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    args = parser.parse_args()
    failed = False
    for name in [p.strip() for p in args.only.split(",") if p.strip()]:
        if name not in PARTS:
            print(f"unknown part {name!r} (known: {', '.join(PARTS)})")
            return 2
        print(f"\n== {name} ==")
        started = time.perf_counter()
        try:
            module = importlib.import_module(PARTS[name])
            result = module.run()
            lines = asyncio.run(result) if inspect.isawaitable(result) else result
        except Exception as exc:  # one part failing must not hide the others' figures
            print(f"  failed: {type(exc).__name__}: {exc}")
            failed = True
            continue
        for line in lines:
            print(f"  {line}")
        print(f"  ({time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
