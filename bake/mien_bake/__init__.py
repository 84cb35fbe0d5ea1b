"""Mien's offline bake: text + audio lines in, per-line animation files (glTF, CSV, JSON) out."""

__all__: list[str] = []
