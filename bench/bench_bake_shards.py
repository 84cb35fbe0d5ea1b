"""Benchmark of bakes on many machines (issue 15): a sharded bake on two "machines" merged, and the Dask executor.

Usage (from the repository root; a few minutes on 2 cores)::

    python bench/bench_bake_shards.py [--lines 200] [--json PATH] [--no-dask]

On the 200-line manifest of ``bench_bake.py``:

1. the one-machine bake (``mien bake --jobs 2``), the reference;
2. two "machines": two processes at once, each ``--shard I/2 --jobs 1`` into its own output folder and its own
   line store (``--cache storeI``), nothing shared;
3. the merge: ``--cache store1 --cache store2 --cached-only`` into a fresh folder (what the last CI agent runs);
4. the Dask executor: ``--executor dask --jobs 2`` (a local cluster of two worker processes) into a fresh folder.

(Every bake runs with ``--allow-outside-inputs``: the fixtures are symlinked into the generated manifest folder.)

Every output a game imports (the folder but ``.mien-bake/`` and the run's report) of 3 and 4 is compared byte for
byte with 1. Prints wall times and ``identical`` per bake; exit status 1 when an output differs or a bake failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_bake import bake_command, build_manifest

REPORT = "bake_report.json"


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.relative_to(folder).as_posix().startswith(".mien-bake/")
            and p.name != REPORT}


def start(command: list[str], manifest: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*command, str(manifest), "-o", str(out), "--progress", "none", "--allow-outside-inputs",
                             *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], out: Path) -> dict[str, Any]:
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"bake failed (exit {proc.returncode}):\n{stdout}\n{stderr}")
    report: dict[str, Any] = json.loads((out / REPORT).read_text(encoding="utf-8"))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask executor (the extra not installed)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    command = bake_command()
    results: dict[str, Any] = {"lines": args.lines}
    with tempfile.TemporaryDirectory(prefix="mien-bench-shards-") as tmp:
        root = Path(tmp)
        manifest = build_manifest(root / "project", args.lines)
        t0 = time.perf_counter()
        report = finish(start(command, manifest, root / "one", "--jobs", "2"), root / "one")
        results["one_machine"] = {"wall_s": round(time.perf_counter() - t0, 2), "counts": report["counts"]}
        reference = outputs(root / "one")

        t0 = time.perf_counter()
        shards = [start(command, manifest, root / f"m{i}", "--jobs", "1", "--shard", f"{i}/2",
                        "--cache", str(root / f"store{i}")) for i in (1, 2)]
        reports = [finish(proc, root / f"m{i}") for i, proc in zip((1, 2), shards, strict=True)]
        results["shards"] = {"wall_s": round(time.perf_counter() - t0, 2),
                             "lines_per_shard": [r["counts"]["done"] for r in reports],
                             "audio_s_per_shard": [round(sum(x.get("audio_s", 0.0) for x in r["lines"]), 1)
                                                   for r in reports]}
        t0 = time.perf_counter()
        report = finish(start(command, manifest, root / "merged", "--cache", str(root / "store1"), "--cache",
                              str(root / "store2"), "--cached-only"), root / "merged")
        results["merge"] = {"wall_s": round(time.perf_counter() - t0, 2), "counts": report["counts"],
                            "identical": outputs(root / "merged") == reference}
        if not args.no_dask:
            t0 = time.perf_counter()
            report = finish(start(command, manifest, root / "dask", "--jobs", "2", "--executor", "dask"),
                            root / "dask")
            results["dask"] = {"wall_s": round(time.perf_counter() - t0, 2), "counts": report["counts"],
                               "identical": outputs(root / "dask") == reference}
    print(json.dumps(results, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    ok = results["merge"]["identical"] and results.get("dask", {"identical": True})["identical"]
    print(f"{args.lines} lines: one machine {results['one_machine']['wall_s']:.1f} s; 2 shards at once "
          f"{results['shards']['wall_s']:.1f} s + merge {results['merge']['wall_s']:.1f} s: "
          + ("byte-identical" if results["merge"]["identical"] else "DIFFERENT")
          + (f"; Dask executor {results['dask']['wall_s']:.1f} s: "
             + ("byte-identical" if results["dask"]["identical"] else "DIFFERENT") if "dask" in results else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
