#!/usr/bin/env python3
"""Write the sample face mesh used by the sample bake manifest (``tests/fixtures/speech/bake_sample_face.glb``).

    python bake/examples/make_sample_face.py [OUT.glb]

A tiny stand-in for a character's head: one quad (4 vertices) named ``head`` whose morph targets
carry the 52 ARKit blendshape names **in a shuffled order** (fixed seed), plus one extra target
(``cheekPuffExtra``) that no rig channel drives, and a ``hat`` triangle without morph targets.
Every target moves the vertices a little along +Z, so each is a real shape. The bake matches
the rig's channels to these targets by name (``mesh.extras.targetNames``) whatever their order.

Built with pygltflib (a dev dependency: ``pip install pygltflib``), independently of the bake's
own glTF writer. The output is deterministic; ``tests/test_bake.py`` checks the committed file
is exactly what this script writes.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pygltflib

from mien.channels import ARKIT52

__all__ = ["DEFAULT_OUT", "EXTRA_TARGET", "SHUFFLE_SEED", "build", "target_names"]

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "speech" / "bake_sample_face.glb"
SHUFFLE_SEED = 52
EXTRA_TARGET = "cheekPuffExtra"


def target_names() -> list[str]:
    """The head's morph target names, in file order: ARKit-52 shuffled, then the extra one."""
    names = list(ARKIT52)
    random.Random(SHUFFLE_SEED).shuffle(names)
    return [*names, EXTRA_TARGET]


def build(names: Sequence[str]) -> bytes:
    """The .glb bytes of a head quad with morph targets ``names`` and a hat triangle without any."""
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator="mien bake/examples/make_sample_face.py"))
    blob = bytearray()

    def accessor(arr: np.ndarray, kind: str, component: int, target: int | None, bounds: bool) -> int:
        blob.extend(b"\x00" * (-len(blob) % 4))
        gltf.bufferViews.append(pygltflib.BufferView(buffer=0, byteOffset=len(blob), byteLength=arr.nbytes,
                                                     target=target))
        blob.extend(arr.tobytes())
        width = 3 if kind == "VEC3" else 1
        flat = arr.reshape(-1, width)
        acc = pygltflib.Accessor(bufferView=len(gltf.bufferViews) - 1, componentType=component,
                                 count=flat.shape[0], type=kind)
        if bounds:
            acc.min = [float(v) for v in flat.min(axis=0)]
            acc.max = [float(v) for v in flat.max(axis=0)]
        gltf.accessors.append(acc)
        return len(gltf.accessors) - 1

    def vec3(arr: np.ndarray) -> int:
        return accessor(arr.astype(np.float32), "VEC3", pygltflib.FLOAT, pygltflib.ARRAY_BUFFER, True)

    quad = np.array([[-0.1, 0.0, 0.0], [0.1, 0.0, 0.0], [0.1, 0.2, 0.0], [-0.1, 0.2, 0.0]], dtype=np.float32)
    indices = accessor(np.array([0, 1, 2, 0, 2, 3], dtype=np.uint16), "SCALAR", pygltflib.UNSIGNED_SHORT,
                       pygltflib.ELEMENT_ARRAY_BUFFER, False)
    targets = []
    for k, _ in enumerate(names):
        delta = np.zeros_like(quad)
        delta[:, 2] = 0.001 * (k + 1) * np.arange(1, len(quad) + 1)
        targets.append(pygltflib.Attributes(POSITION=vec3(delta)))
    head = pygltflib.Mesh(name="head", primitives=[pygltflib.Primitive(
        attributes=pygltflib.Attributes(POSITION=vec3(quad)), indices=indices, targets=targets)],
        weights=[0.0] * len(names), extras={"targetNames": list(names)})
    hat = pygltflib.Mesh(name="hat", primitives=[pygltflib.Primitive(
        attributes=pygltflib.Attributes(POSITION=vec3(np.array([[-0.1, 0.25, 0], [0.1, 0.25, 0], [0, 0.35, 0]]))))])
    gltf.meshes = [head, hat]
    gltf.nodes = [pygltflib.Node(name="head", mesh=0), pygltflib.Node(name="hat", mesh=1)]
    gltf.scenes = [pygltflib.Scene(nodes=[0, 1])]
    gltf.scene = 0
    blob.extend(b"\x00" * (-len(blob) % 4))
    gltf.buffers = [pygltflib.Buffer(byteLength=len(blob))]
    gltf.set_binary_blob(bytes(blob))
    return b"".join(gltf.save_to_bytes())


def main(argv: Sequence[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_OUT
    out.write_bytes(build(target_names()))
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(target_names())} morph targets)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
