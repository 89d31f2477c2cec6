import os
import stat

import pytest

from kfit.saving import atomic_write, atomic_write_bytes, atomic_write_text
from kfit.saving.atomic import atomic_path


def _listing(folder):
    return sorted(os.listdir(folder))


def test_atomic_write_bytes_content_and_replaces_existing(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old contents that are longer")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert _listing(tmp_path) == ["data.bin"]


def test_atomic_write_text_is_utf8(tmp_path):
    target = tmp_path / "t.txt"
    atomic_write_text(str(target), "héllo ✓")
    assert target.read_bytes() == "héllo ✓".encode()


def test_atomic_write_creates_parent_folders(tmp_path):
    target = tmp_path / "a" / "b" / "c.txt"
    with atomic_write(target, "w") as f:
        f.write("x")
    assert target.read_text() == "x"


def test_exception_mid_write_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"original")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(target) as f:
        f.write(b"partial data")
        f.flush()
        # The partial data exists on disk, but only under a temporary name.
        assert target.read_bytes() == b"original"
        assert len(os.listdir(tmp_path)) == 2
        raise RuntimeError("boom")
    assert target.read_bytes() == b"original"
    assert _listing(tmp_path) == ["keep.bin"]


def test_exception_without_existing_target_leaves_nothing(tmp_path):
    target = tmp_path / "new.bin"
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as f:
        f.write(b"x")
        raise KeyboardInterrupt
    assert _listing(tmp_path) == []


def test_failed_replace_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "t.bin"
    target.write_bytes(b"original")

    def failing_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"original"
    assert _listing(tmp_path) == ["t.bin"]


def test_data_is_fsynced_before_replace(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    atomic_write_bytes(tmp_path / "f.bin", b"abc")
    assert events.index("fsync") < events.index("replace")


def test_temp_file_lives_in_target_folder(tmp_path):
    target = tmp_path / "x.bin"
    with atomic_write(target):
        names = os.listdir(tmp_path)
        assert len(names) == 1 and names[0] != "x.bin"
    assert _listing(tmp_path) == ["x.bin"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_permissions_follow_umask_for_new_and_existing_files(tmp_path):
    fresh = tmp_path / "fresh.bin"
    atomic_write_bytes(fresh, b"a")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~umask
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"a")
    os.chmod(existing, 0o640)
    atomic_write_bytes(existing, b"b")
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o640


def test_rejects_read_modes(tmp_path):
    with pytest.raises(ValueError, match=r"mode='rb'"), atomic_write(tmp_path / "f", "rb"):
        pass
    assert _listing(tmp_path) == []


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "f.h5"
    target.write_bytes(b"old")
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise ValueError
    assert target.read_bytes() == b"old"
    assert _listing(tmp_path) == ["f.h5"]
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert _listing(tmp_path) == ["f.h5"]
