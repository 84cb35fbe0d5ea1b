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
    """``["phonemes.recognizers=1", ...]`` as a config mapping (``{"phonemes": {"recognizers": 1}}``), for
    :func:`mien.config.config_from_dict`, which validates it."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or "." not in key:
            raise SystemExit(f"--set {pair!r}: expected SECTION.KEY=VALUE, e.g. phonemes.recognizers=1")
        section, name = key.split(".", 1)
        out.setdefault(section, {})[name] = _value(value)
    return out
