"""Mien's offline bake: text + audio lines in, per-line animation files (glTF, CSV, JSON) out.

    from mien_bake import BakeOptions, bake
    result = bake("lines.yaml", "out/", BakeOptions(jobs=2))
    result.exit_code, result.lines["guard_001"].status

The command is ``mien bake MANIFEST.yaml -o OUT_DIR`` (see ``docs/bake.md``).
"""

from .gltf import Clip, GlbReport, build_glb, read_glb, read_glb_animation, write_glb
from .manifest import Manifest, Problem, load_manifest
from .runner import BakeOptions, BakeResult, LineOutcome, bake

__all__ = [
    "BakeOptions",
    "BakeResult",
    "Clip",
    "GlbReport",
    "LineOutcome",
    "Manifest",
    "Problem",
    "bake",
    "build_glb",
    "load_manifest",
    "read_glb",
    "read_glb_animation",
    "write_glb",
]
