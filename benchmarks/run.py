#!/usr/bin/env python
"""Run the benchmarks against the real stack and write benchmarks/results/latest.json.

Each ``benchmarks/bench_<name>.py`` defines ``NAME`` and ``run() -> dict`` returning
``{"value": n, "unit": "...", "goal": n, "detail": {...}}``. ``--only NAME`` runs one;
results of other benchmarks already in latest.json are kept.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"


def discover() -> dict[str, str]:
    modules = {}
    for path in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        module = importlib.import_module(f"benchmarks.{path.stem}")
        modules[getattr(module, "NAME", path.stem.removeprefix("bench_"))] = f"benchmarks.{path.stem}"
    return modules


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run one benchmark by name")
    args = parser.parse_args()
    available = discover()
    names = [args.only] if args.only else list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"Unknown benchmark {unknown[0]!r}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    failed = False
    for name in names:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            result = importlib.import_module(available[name]).run()
        except Exception:
            traceback.print_exc()
            result = {"value": None, "unit": "", "goal": None, "detail": {"error": traceback.format_exc(limit=3)}}
            failed = True
        result.setdefault("detail", {})["seconds"] = round(time.monotonic() - started, 1)
        results[name] = result
        print(json.dumps({name: result}, indent=2, default=str), flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
