"""``--set SECTION.KEY=VALUE`` options of the benchmarks: settings changed from the defaults, to compare."""

from __future__ import annotations

from typing import Any

__all__ = ["overrides"]


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def overrides(pairs: list[str]) -> dict[str, Any]:
    """``["phonemes.extra_recognizers=0", ...]`` as a config mapping (``{"phonemes": {"extra_recognizers": 0}}``), for
    :func:`mien.config.config_from_dict`, which validates it."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or "." not in key:
            raise SystemExit(f"--set {pair!r}: expected SECTION.KEY=VALUE, e.g. phonemes.extra_recognizers=0")
        section, name = key.split(".", 1)
        out.setdefault(section, {})[name] = _value(value)
    return out
