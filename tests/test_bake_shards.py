"""Bakes on many machines: shards into separate line stores merged byte-identically, and the Dask executor on a
local cluster (mien_bake.store, mien_bake.distributed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_bake import manifest_folder, run_bake, visible_files, write_manifest

from mien import Animator
from mien_bake.runner import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE
from mien_bake.store import LineStore, parse_shard, shard_of

CLIPS = ("cards_001", "cards_003", "cards_004")
EMOTIONS = ("neutral", "happy:0.8", "0:neutral;0.8:angry:0.9", "sad:0.6")


def _manifest(tmp_path: Path, n_lines: int = 8) -> Path:
    folder = manifest_folder(tmp_path, CLIPS)
    rows = ["version: 1", "defaults: {per_character_glb: true, formats: [glb, csv, json]}", "characters:",
            "  smith: {rig: arkit52, persona: grumpy_blacksmith}", "  bard: {rig: vrm}", "lines:"]
    for i in range(n_lines):
        clip = CLIPS[i % len(CLIPS)]
        who = ("smith", "bard")[i % 2]
        emotion = "auto" if who == "smith" else EMOTIONS[i % len(EMOTIONS)]
        rows.append(f"  - {{id: {who}_{i:02d}, character: {who}, audio: audio/{clip}.wav, "
                    f"transcript_file: audio/{clip}.txt, emotion: '{emotion}'"
                    + (", heard: 'You lied to me!'" if who == "smith" and i % 4 == 0 else "") + "}")
    return write_manifest(folder, "\n".join(rows) + "\n")


def test_the_shard_split_depends_only_on_the_manifest_and_balances_audio() -> None:
    weights = {f"l{i}": float(w) for i, w in enumerate([9, 1, 1, 1, 5, 4, 3, 2, 2, 2])}
    split = shard_of(weights, 3)
    assert split == shard_of(dict(reversed(list(weights.items()))), 3)  # order of the manifest does not matter
    loads = [sum(w for k, w in weights.items() if split[k] == s) for s in (1, 2, 3)]
    assert max(loads) - min(loads) <= 1.0 and set(split.values()) == {1, 2, 3}
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/2", "3/2", "1", "a/b", "1/0"):
        with pytest.raises(ValueError, match="accepted"):
            parse_shard(bad)


def test_two_machines_with_separate_stores_merge_byte_identically(tmp_path: Path, animator: Animator) -> None:
    manifest = _manifest(tmp_path)
    one = run_bake(manifest, tmp_path / "one", animator)
    assert one.exit_code == EXIT_OK, one.summary
    reference = visible_files(tmp_path / "one")
    assert any(name.startswith("characters/") for name in reference)

    shards = []
    for index in (1, 2):  # two "machines": their own output folder and their own store
        result = run_bake(manifest, tmp_path / f"m{index}", animator, shard=(index, 2),
                          caches=(str(tmp_path / f"store{index}"),))
        assert result.exit_code == EXIT_OK, result.summary
        assert result.report["shard"] == f"{index}/2"
        assert not any(name.startswith("characters/") for name in visible_files(tmp_path / f"m{index}"))
        shards.append({lid for lid, o in result.lines.items() if o.status == "done"})
    assert shards[0] and shards[1] and not shards[0] & shards[1]
    assert shards[0] | shards[1] == set(one.lines)

    merged = run_bake(manifest, tmp_path / "merged", animator, caches=(str(tmp_path / "store1"),
                                                                          str(tmp_path / "store2")), cached_only=True)
    assert merged.exit_code == EXIT_OK, merged.summary
    assert {o.status for o in merged.lines.values()} == {"restored"}
    assert visible_files(tmp_path / "merged") == reference
    rerun = run_bake(manifest, tmp_path / "merged", animator)  # the merged folder is a normal, warm bake folder
    assert {o.status for o in rerun.lines.values()} == {"skipped"}


def test_a_store_shares_lines_between_folders_and_a_damaged_entry_is_baked_again(tmp_path: Path,
                                                                                  animator: Animator) -> None:
    manifest = _manifest(tmp_path, 3)
    store = tmp_path / "store"
    first = run_bake(manifest, tmp_path / "a", animator, caches=(str(store),))
    assert {o.status for o in first.lines.values()} == {"done"}
    entries = sorted(store.glob("lines/*/*/entry.json"))
    assert len(entries) == 3
    victim = entries[0].parent / "csv"
    victim.write_bytes(victim.read_bytes()[:-1] + b"x")  # same size, other bytes
    second = run_bake(manifest, tmp_path / "b", animator, caches=(str(store),))
    assert sorted(o.status for o in second.lines.values()) == ["done", "restored", "restored"]
    assert any("damaged" in note for note in second.report["notes"])
    assert visible_files(tmp_path / "b") == visible_files(tmp_path / "a")
    assert LineStore(store).problems == []


def test_cached_only_fails_the_lines_no_store_has_and_refused_option_mixes(tmp_path: Path,
                                                                           animator: Animator) -> None:
    manifest = _manifest(tmp_path, 4)
    run_bake(manifest, tmp_path / "m1", animator, shard=(1, 2), caches=(str(tmp_path / "s1"),))
    merged = run_bake(manifest, tmp_path / "out", animator, caches=(str(tmp_path / "s1"),), cached_only=True)
    assert merged.exit_code == EXIT_FAILED
    failed = [o for o in merged.lines.values() if o.status == "failed"]
    assert failed and all("--cached-only" in o.error for o in failed)
    assert all(o.status in ("restored", "failed") for o in merged.lines.values())
    for options, needle in (({"shard": (1, 2), "prune": True}, "--prune"), ({"cached_only": True}, "--cache"),
                            ({"executor": "spark"}, "accepted: local, dask")):
        refused = run_bake(manifest, tmp_path / "x", animator, **options)
        assert refused.exit_code == EXIT_UNUSABLE and needle in refused.summary, refused.summary


def test_the_cli_takes_shard_cache_and_cached_only(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, 2)
    base = [sys.executable, "-m", "mien_bake.cli", str(manifest), "--jobs", "1", "--progress", "none"]
    bad = subprocess.run([*base, "-o", str(tmp_path / "o"), "--shard", "3/2"], capture_output=True, text=True)
    assert bad.returncode == 2 and "1 <= I <= N" in bad.stderr
    for index in (1, 2):
        done = subprocess.run([*base, "-o", str(tmp_path / f"o{index}"), "--shard", f"{index}/2", "--cache",
                               str(tmp_path / "store")], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    merged = subprocess.run([*base, "-o", str(tmp_path / "all"), "--cache", str(tmp_path / "store"), "--cached-only"],
                            capture_output=True, text=True)
    assert merged.returncode == 0 and "2 restored from the line store" in merged.stdout, merged.stdout


def test_the_dask_executor_bakes_on_a_local_cluster_the_same_files(tmp_path: Path, animator: Animator) -> None:
    pytest.importorskip("distributed", reason="the 'distributed' extra (dask[distributed])")
    manifest = _manifest(tmp_path, 6)
    local = run_bake(manifest, tmp_path / "local", animator)
    assert local.exit_code == EXIT_OK, local.summary
    shutil.copytree(manifest.parent, tmp_path / "elsewhere")  # the cluster reads nothing from the manifest folder
    result = run_bake(tmp_path / "elsewhere" / manifest.name, tmp_path / "dask", animator, jobs=2, executor="dask")
    assert result.exit_code == EXIT_OK, result.summary
    assert result.report["executor"] == "dask"
    assert {o.status for o in result.lines.values()} == {"done"}
    assert visible_files(tmp_path / "dask") == visible_files(tmp_path / "local")
    report = json.loads((tmp_path / "dask" / "bake_report.json").read_text())
    assert report["counts"]["done"] == 6


def test_a_killed_shard_loses_no_finished_line(tmp_path: Path) -> None:
    """SIGKILL a shard's bake part-way: every line it finished is whole in the store (entries appear atomically,
    half-written ones stay under tmp/), the rerun restores them and bakes only the rest, and the merge equals a
    one-machine bake. (The CLI throughout: one engine, the installed default.)"""
    import os
    import signal
    import time

    manifest = _manifest(tmp_path, 8)
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def cli(out: str, *extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "mien_bake.cli", str(manifest), "-o", str(tmp_path / out),
                                 "--jobs", "1", "--progress", "none", *extra],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)

    child = cli("m1", "--shard", "1/1", "--cache", str(store))
    try:
        deadline = time.monotonic() + 300
        while not list(store.glob("lines/*/*/entry.json")) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)  # part-way (or after the end, on a fast machine: nothing is lost either)
    finally:
        child.wait(timeout=60)
    finished = sorted(store.glob("lines/*/*/entry.json"))
    assert finished, "the shard was killed before it finished any line"
    (store / "tmp" / "deadbeef.half").mkdir(parents=True, exist_ok=True)  # what a kill inside put() leaves
    (store / "tmp" / "deadbeef.half" / "glb").write_bytes(b"half a file")
    for entry in finished:  # every stored line is whole: each file's size matches its entry
        files = json.loads(entry.read_text())["files"]
        assert all((entry.parent / name).stat().st_size == meta["size"] for name, meta in files.items())

    assert cli("m1-again", "--shard", "1/1", "--cache", str(store)).wait(timeout=600) == EXIT_OK
    report = json.loads((tmp_path / "m1-again" / "bake_report.json").read_text())
    assert report["counts"]["restored"] == len(finished) and report["counts"]["done"] == 8 - len(finished)
    assert len(list(store.glob("lines/*/*/entry.json"))) == 8
    merged, one = cli("merged", "--cache", str(store), "--cached-only"), cli("one")
    assert merged.wait(timeout=600) == one.wait(timeout=600) == EXIT_OK
    assert visible_files(tmp_path / "merged") == visible_files(tmp_path / "one")
