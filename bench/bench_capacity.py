"""How many real-time streams this machine keeps within the latency target (issue 15), by a sweep of ``load.py``.

    python bench/bench_capacity.py                              # 100 ms chunks, 2 sidecars behind nginx
    python bench/bench_capacity.py --chunk-ms 40 --replicas 1 --counts 4,8,16 --seconds 10

For each stream count (ascending, ``--counts``) one round of ``bench/load.py`` (its own fresh sidecars, no extra
clients) of ``--seconds`` s; the sweep stops at the first count that misses the target (an error, or frame latency
p99 above ``--p99-ms``, default 30). Prints each round's p50/p99 and errors, and the largest count that held.
``--json PATH`` writes the rounds and ``largest_ok`` as JSON. Exit status 0 (a figure, not a check).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="8,16,24,32,40,48,64", help="stream counts to try, ascending")
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--p99-ms", type=float, default=30.0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    counts = sorted(int(c) for c in args.counts.split(","))
    rounds: list[dict[str, Any]] = []
    largest_ok = 0
    for count in counts:
        handle, name = tempfile.mkstemp(prefix=f"mien-capacity-{count}-", suffix=".json")
        os.close(handle)
        out = Path(name)
        load.main(["--streams", str(count), "--seconds", str(args.seconds), "--chunk-ms", str(args.chunk_ms),
                   "--warmup-s", str(args.warmup_s), "--replicas", str(args.replicas), "--no-extra",
                   "--json", str(out)])
        summary = json.loads(out.read_text())
        out.unlink()
        lat = summary["latency_ms"]
        ok = summary["errors"] == 0 and lat["p99"] <= args.p99_ms
        rounds.append({"streams": count, "errors": summary["errors"], "p50_ms": lat["p50"], "p99_ms": lat["p99"],
                       "frames": summary["frames"], "ok": ok})
        print(f"  {count} streams: errors {summary['errors']}, p50 {lat['p50']} ms, p99 {lat['p99']} ms: "
              + ("ok" if ok else "missed"), flush=True)
        if not ok:
            break
        largest_ok = count
    results = {"chunk_ms": args.chunk_ms, "seconds": args.seconds, "replicas": args.replicas,
               "p99_target_ms": args.p99_ms, "rounds": rounds, "largest_ok": largest_ok}
    print(f"largest stream count with 0 errors and p99 <= {args.p99_ms:g} ms ({args.chunk_ms} ms chunks, "
          f"{args.replicas} sidecar(s), {args.seconds:g} s rounds): {largest_ok}"
          + (" (every count tried)" if rounds and rounds[-1]["ok"] else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
