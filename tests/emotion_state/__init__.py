"""Tests of the personality-driven emotion state (mien.emotion_state)."""
