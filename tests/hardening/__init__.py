"""Hardening tests: bad input, fuzz, load, faults, security, scale-out.

A package, so that its conftest.py does not shadow tests/conftest.py (imported as `conftest`).
"""
