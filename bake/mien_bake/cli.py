"""``mien bake MANIFEST.yaml -o OUT_DIR``: the argument parser and the command (called from :mod:`mien.cli`).

    mien bake MANIFEST.yaml -o OUT_DIR [--jobs N] [--force] [--fail-fast] [--progress auto|bar|json|none]
              [--prune] [--dry-run] [--allow-outside-inputs]

The summary goes to stdout, progress to stderr. Exit codes: 0 every line baked or unchanged, 1 some
line failed (the others were written), 2 the manifest or the output folder is unusable, 130 when
interrupted (Ctrl-C; finished lines are kept and a rerun resumes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mien.config import Config
from mien.files import safe_text

__all__ = ["EXIT_INTERRUPTED", "add_bake_arguments", "main", "run_bake"]

EXIT_INTERRUPTED = 130
PROGRESS_KINDS = ("auto", "bar", "json", "none")


def add_bake_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``mien bake`` arguments to ``parser`` (the ``bake`` sub-parser of ``mien``)."""
    parser.add_argument("manifest", help="the bake manifest (YAML; see docs/bake.md)")
    parser.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    parser.add_argument("-j", "--jobs", type=int, default=0,
                        help="worker processes (default: one per CPU; 1 = bake in this process)")
    parser.add_argument("--force", action="store_true", help="bake every line again, ignoring the cache")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failed line")
    parser.add_argument("--progress", choices=PROGRESS_KINDS, default="auto",
                        help="stderr progress: a bar on a terminal (auto), or one JSON object per line (json)")
    parser.add_argument("--prune", action="store_true",
                        help="delete the outputs of lines and characters no longer in the manifest")
    parser.add_argument("--dry-run", action="store_true", help="validate and list what would be baked; write nothing")
    parser.add_argument("--allow-outside-inputs", action="store_true",
                        help="accept symbolic links in the manifest's folder that resolve to files outside it")
    return parser


def run_bake(args: argparse.Namespace, config: Config) -> int:
    """Run the bake for parsed arguments; returns the exit code."""
    from .runner import MAX_JOBS, BakeOptions, bake

    if not 0 <= args.jobs <= MAX_JOBS:
        print(f"mien bake: --jobs {args.jobs}: accepted: 0 to {MAX_JOBS} (0 = one per CPU); --jobs must be >= 0",
              file=sys.stderr)
        return 2
    if not args.output.strip() or args.output == "-":
        print(f"mien bake: -o {args.output!r}: give the output folder (the bake writes many files, not a stream)",
              file=sys.stderr)
        return 2
    if args.manifest == "-":
        print("mien bake: the manifest cannot come from stdin: its paths are relative to its folder; give its path",
              file=sys.stderr)
        return 2
    options = BakeOptions(jobs=args.jobs, force=args.force, fail_fast=args.fail_fast, progress=args.progress,
                          prune=args.prune, dry_run=args.dry_run, allow_outside_inputs=args.allow_outside_inputs)
    try:
        result = bake(args.manifest, args.output, options, config=config)
    except KeyboardInterrupt:
        print("mien bake: interrupted; finished lines are kept, run the same command again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(safe_text(result.summary), flush=True)
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mien_bake.cli``: the same command without the ``mien`` front end (default config)."""
    parser = add_bake_arguments(argparse.ArgumentParser(prog="mien bake", description=__doc__.splitlines()[0]))
    return run_bake(parser.parse_args(argv), Config())


if __name__ == "__main__":
    sys.exit(main())
