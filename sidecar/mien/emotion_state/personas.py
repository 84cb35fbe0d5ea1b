"""Persona presets: a named OCEAN vector plus an optional resting (baseline) emotion, from YAML.

The shipped presets live in ``mien/data/emotion_state/personas.yaml``; a game can add or override
presets with its own YAML file of the same shape (``EmotionStateConfig.personas_path``)::

    schema_version: 1
    personas:
      stoic_guard:
        description: "Disciplined, reserved and emotionally stable."
        ocean: [0.30, 0.85, 0.35, 0.45, 0.15]     # O, C, E, A, N in [0, 1]
        baseline: {neutral: 1.0}                   # optional; overrides the temperament
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..emotion import Emotion
from ..errors import InvalidArgument
from .context import data_path
from .temperament import check_ocean

__all__ = ["PERSONAS_FILE", "PERSONAS_SCHEMA_VERSION", "Persona", "load_personas", "parse_personas"]

PERSONAS_FILE = "personas.yaml"
PERSONAS_SCHEMA_VERSION = 1
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Persona:
    """A named personality preset."""

    name: str
    ocean: tuple[float, float, float, float, float]
    description: str = ""
    baseline: Emotion | None = None


def _parse_one(name: object, body: object, source: str) -> Persona:
    where = f"{source}: personas.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgument(
            f"{where}: persona names must be lower_snake_case ([a-z][a-z0-9_]*, <= 64 chars)",
            field="personas",
        )
    if not isinstance(body, Mapping):
        raise InvalidArgument(
            f"{where} must be a mapping with 'ocean' (and optional 'description', 'baseline')", field="personas"
        )
    unknown = set(body) - {"ocean", "description", "baseline"}
    if unknown:
        raise InvalidArgument(
            f"{where}: unknown keys {sorted(unknown)}; accepted: ocean, description, baseline", field="personas"
        )
    if "ocean" not in body:
        raise InvalidArgument(f"{where}: missing 'ocean' (5 numbers O, C, E, A, N in [0, 1])", field="personas")
    ocean = check_ocean(body["ocean"], field=f"personas.{name}.ocean")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise InvalidArgument(f"{where}.description must be a string", field="personas")
    baseline_raw = body.get("baseline")
    baseline: Emotion | None = None
    if baseline_raw is not None:
        if not isinstance(baseline_raw, Mapping):
            raise InvalidArgument(f"{where}.baseline must be a mapping {{category: weight}}", field="personas")
        try:
            baseline = Emotion({str(k): float(v) for k, v in baseline_raw.items()})
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(
                f"{where}.baseline weights must be numbers in [0, 1]: {exc}", field="personas"
            ) from exc
    return Persona(name=name, ocean=ocean, description=description, baseline=baseline)


def parse_personas(text: str, source: str = "<personas>") -> dict[str, Persona]:
    """Parse persona YAML text (see the module docstring for the shape)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{source}: not valid YAML: {exc}", field="personas") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("personas"), Mapping):
        raise InvalidArgument(f"{source}: expected a mapping with a 'personas' mapping", field="personas")
    version = doc.get("schema_version", PERSONAS_SCHEMA_VERSION)
    if version != PERSONAS_SCHEMA_VERSION:
        raise InvalidArgument(
            f"{source}: schema_version {version!r} is not supported; accepted: {PERSONAS_SCHEMA_VERSION}",
            field="personas",
        )
    return {str(name): _parse_one(name, body, source) for name, body in doc["personas"].items()}


def load_personas(path: str | Path | None = None) -> dict[str, Persona]:
    """The shipped presets, then (if ``path`` is given) the presets of that file on top of them."""
    shipped = data_path(PERSONAS_FILE)
    personas = parse_personas(shipped.read_text(encoding="utf-8"), source=str(shipped))
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidArgument(f"personas_path: cannot read {path}: {exc}", field="personas_path") from exc
        personas.update(parse_personas(text, source=str(path)))
    return personas
