"""Temporary files are named recognisably, and a killed writer's leftovers go at the next save."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

import kfit
from kfit.saving import atomic, atomic_write, atomic_write_bytes


@pytest.fixture(autouse=True)
def fresh_sweep_memory(monkeypatch):
    # The sweep runs once per target and process; each test starts with none done.
    monkeypatch.setattr(atomic, "_swept", set())


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _touch(path, age=0.0):
    path.write_bytes(b"x" * 100)
    if age:
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))


def test_temp_file_name_is_recognisably_ours(tmp_path):
    with atomic_write(tmp_path / "model.keras") as f:
        f.write(b"data")
        (name,) = os.listdir(tmp_path)
    assert re.fullmatch(rf"\.model\.keras\.kfit-tmp-{os.getpid()}-[a-z0-9_]+", name)


def test_next_save_removes_only_stale_leftovers_of_that_target(tmp_path):
    dead, alive, me = _dead_pid(), os.getppid(), os.getpid()
    stale = [
        tmp_path / f".model.keras.kfit-tmp-{dead}-abc123_x",      # its writer was killed
        tmp_path / f".model.keras.kfit-tmp-{me}-old12345",        # our pid, reused: older than us
    ]
    _touch(stale[0])
    _touch(stale[1], age=3600)
    staging = tmp_path / f".model.keras.kfit-tmp-{dead}-dir12345"  # a save_model staging folder
    staging.mkdir()
    (staging / "model.weights.safetensors").write_bytes(b"y" * 1000)
    kept = [
        tmp_path / f".model.keras.kfit-tmp-{alive}-live1234",  # a live process is writing it
        tmp_path / f".model.keras.kfit-tmp-{me}-new12345",     # ours, from this process
        tmp_path / f".other.keras.kfit-tmp-{dead}-abc12345",   # another target's
        tmp_path / f".model.keras.kfit-tmp-{dead}-abc.tmp",    # not exactly our pattern
        tmp_path / ".model.keras.abc12345.tmp",                # not our naming
        tmp_path / "model.keras.kfit-tmp-1-abc",               # not hidden: not ours
        tmp_path / "notes.txt",
    ]
    for path in kept:
        _touch(path)
    atomic_write_bytes(tmp_path / "model.keras", b"new")
    assert sorted(os.listdir(tmp_path)) == sorted([p.name for p in kept] + ["model.keras"])
    assert (tmp_path / "model.keras").read_bytes() == b"new"


def test_a_real_killed_writer_leaves_a_leftover_that_the_next_save_removes(tmp_path):
    target = tmp_path / "w.safetensors"
    # The child dies with SIGKILL in the middle of a write: nothing of it can clean up.
    child = (
        "import os, signal, sys\n"
        "from kfit.saving.atomic import atomic_write\n"
        "with atomic_write(sys.argv[1]) as f:\n"
        "    f.write(b'partial' * 1000); f.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", child, str(target)], env={**os.environ, "KERAS_BACKEND": "torch"})
    assert result.returncode == -signal.SIGKILL
    (leftover,) = os.listdir(tmp_path)
    assert ".kfit-tmp-" in leftover
    atomic_write_bytes(target, b"complete")
    assert os.listdir(tmp_path) == ["w.safetensors"]


def test_model_save_removes_a_killed_saves_staging_folder_and_temp(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".m.keras.kfit-tmp-{dead}-stage123").mkdir()
    (tmp_path / f".m.keras.kfit-tmp-{dead}-stage123" / "model.weights.safetensors").write_bytes(b"z" * 10)
    _touch(tmp_path / f".m.keras.kfit-tmp-{dead}-zip12345")
    model = kfit.Sequential([kfit.layers.Dense(2, input_dim=3)])
    model.compile(optimizer="adam", loss="mse")
    model.save(str(tmp_path / "m.keras"))
    assert os.listdir(tmp_path) == ["m.keras"]
    restored = kfit.saving.load_model(str(tmp_path / "m.keras"))
    for a, b in zip(restored.get_weights(), model.get_weights()):
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))


def test_a_leftover_that_cannot_be_removed_does_not_fail_the_save(tmp_path, monkeypatch):
    _touch(tmp_path / f".f.bin.kfit-tmp-{_dead_pid()}-abc12345")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "denied", path)

    monkeypatch.setattr(atomic.os, "unlink", refuse)
    atomic_write_bytes(tmp_path / "f.bin", b"ok")
    monkeypatch.undo()
    assert (tmp_path / "f.bin").read_bytes() == b"ok"


def test_sweep_runs_once_per_target(tmp_path):
    atomic_write_bytes(tmp_path / "f.bin", b"1")
    leftover = tmp_path / f".f.bin.kfit-tmp-{_dead_pid()}-abc12345"
    _touch(leftover)
    atomic_write_bytes(tmp_path / "f.bin", b"2")  # swept already in this process: left for the next
    assert leftover.exists()


# ------------------------------------------------------------------ failed writes name the target
def test_a_file_where_a_folder_should_be_is_named(tmp_path):
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file") as info:
        atomic_write_bytes(tmp_path / "blocker" / "sub" / "f.bin", b"x")
    assert repr(str(tmp_path / "blocker")) in str(info.value) and "File exists" not in str(info.value)


def test_an_existing_folder_at_the_target_is_named(tmp_path):
    (tmp_path / "f.bin").mkdir()
    with pytest.raises(IsADirectoryError, match="existing folder"):
        atomic_write_bytes(tmp_path / "f.bin", b"x")


@pytest.mark.parametrize("code, kind", [(13, PermissionError), (28, OSError), (30, OSError)])
def test_failing_to_create_the_temp_file_names_the_target_and_cause(tmp_path, monkeypatch, code, kind):
    def fail(*args, dir=None, prefix="", **kwargs):
        raise OSError(code, os.strerror(code), os.path.join(dir, prefix + "zzz"))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", fail)
    target = tmp_path / "f.bin"
    with pytest.raises(kind) as info:
        atomic_write_bytes(target, b"x")
    message = str(info.value)
    assert info.value.errno == code
    assert repr(str(target)) in message and "kfit-tmp" not in message
    assert os.strerror(code) in message and "unchanged" in message
