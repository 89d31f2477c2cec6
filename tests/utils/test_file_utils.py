"""Tests for kfit.utils.get_file against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kfit.utils import file_utils
from kfit.utils.file_utils import get_file


class _Server:
    """Serves byte strings by path; counts requests; can cut a response short."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncated: set[str] = set()
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                extra = 1000 if self.path in server.truncated else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                self.wfile.write(body)
                if extra:
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()
        self.running = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.running = False


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.stop()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


PAYLOAD = b"kfit test payload " * 1000


def test_downloads_into_cache_subdir(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    path = get_file("data.bin", server.url("/data.bin"), cache_dir=tmp_path)
    assert path == str(tmp_path / "datasets" / "data.bin")
    assert Path(path).read_bytes() == PAYLOAD
    assert server.requests == ["/data.bin"]


def test_fname_defaults_to_url_basename(server: _Server, tmp_path: Path) -> None:
    server.files["/dir/named.bin"] = PAYLOAD
    path = get_file(origin=server.url("/dir/named.bin"), cache_dir=tmp_path, cache_subdir="sub")
    assert path == str(tmp_path / "sub" / "named.bin")


def test_cache_hit_needs_no_network(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    url = server.url("/data.bin")
    first = get_file("data.bin", url, file_hash=_sha256(PAYLOAD), cache_dir=tmp_path)
    server.stop()
    second = get_file("data.bin", url, file_hash=_sha256(PAYLOAD), cache_dir=tmp_path)
    third = get_file("data.bin", url, cache_dir=tmp_path)  # no hash: presence is enough
    assert first == second == third
    assert Path(second).read_bytes() == PAYLOAD


def test_hash_mismatch_in_cache_triggers_redownload(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.files["/data.bin"] = PAYLOAD
    stale = tmp_path / "datasets" / "data.bin"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"outdated")
    url, digest = server.url("/data.bin"), _sha256(PAYLOAD)
    path = get_file("data.bin", url, file_hash=digest, cache_dir=tmp_path)
    assert Path(path).read_bytes() == PAYLOAD
    assert server.requests == ["/data.bin"]
    assert "downloaded again" in capsys.readouterr().out


def test_md5_hash_is_detected_by_length(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    path = get_file("data.bin", server.url("/data.bin"), file_hash=md5, cache_dir=tmp_path)
    server.stop()
    assert get_file("data.bin", server.url("/data.bin"), md5_hash=md5, cache_dir=tmp_path) == path


def test_bad_hash_after_download_raises_and_keeps_nothing(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    with pytest.raises(ValueError, match="incomplete or corrupted") as info:
        get_file("data.bin", server.url("/data.bin"), file_hash="0" * 64, cache_dir=tmp_path)
    assert "sha256" in str(info.value)
    folder = tmp_path / "datasets"
    assert not (folder / "data.bin").exists()
    assert list(folder.iterdir()) == []


def test_http_404_raises_clear_error(server: _Server, tmp_path: Path) -> None:
    url = server.url("/missing.npz")
    with pytest.raises(Exception) as info:
        get_file("missing.npz", url, cache_dir=tmp_path)
    message = str(info.value)
    target = tmp_path / "datasets" / "missing.npz"
    assert url in message
    assert "404" in message
    assert f"place it at {target}" in message
    assert not target.exists()
    assert _leftovers(target.parent) == []


def test_unreachable_server_raises_clear_error(server: _Server, tmp_path: Path) -> None:
    url = server.url("/data.bin")
    server.stop()
    with pytest.raises(Exception, match="Could not download") as info:
        get_file("data.bin", url, cache_dir=tmp_path)
    assert str(tmp_path / "datasets" / "data.bin") in str(info.value)


def test_keras_home_is_honoured(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    server.files["/data.bin"] = PAYLOAD
    path = get_file("data.bin", server.url("/data.bin"))
    assert path == str(home / "datasets" / "data.bin")


def test_truncated_download_leaves_no_partial_file(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.truncated.add("/data.bin")
    with pytest.raises(Exception, match="Could not download"):
        get_file("data.bin", server.url("/data.bin"), cache_dir=tmp_path)
    folder = tmp_path / "datasets"
    assert list(folder.iterdir()) == []


def test_failed_download_keeps_previous_file_intact(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.truncated.add("/data.bin")
    existing = tmp_path / "datasets" / "data.bin"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"previous version")
    with pytest.raises(Exception, match="Could not download"):
        get_file("data.bin", server.url("/data.bin"), cache_dir=tmp_path, force_download=True)
    assert existing.read_bytes() == b"previous version"
    assert _leftovers(existing.parent) == []


def test_force_download_fetches_again(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    get_file("data.bin", server.url("/data.bin"), cache_dir=tmp_path)
    server.files["/data.bin"] = b"new content"
    path = get_file("data.bin", server.url("/data.bin"), cache_dir=tmp_path, force_download=True)
    assert Path(path).read_bytes() == b"new content"
    assert len(server.requests) == 2


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_extracts_tar_next_to_archive(server: _Server, tmp_path: Path) -> None:
    server.files["/pack.tar.gz"] = _tar_bytes({"pack/a.txt": b"A", "pack/b/c.txt": b"C"})
    path = get_file("pack.tar.gz", server.url("/pack.tar.gz"), extract=True, cache_dir=tmp_path)
    folder = tmp_path / "datasets"
    assert path == str(folder / "pack_extracted")
    assert (folder / "pack.tar.gz").is_file()
    assert (Path(path) / "pack" / "a.txt").read_bytes() == b"A"
    assert (Path(path) / "pack" / "b" / "c.txt").read_bytes() == b"C"
    assert sorted(p.name for p in folder.iterdir()) == ["pack.tar.gz", "pack_extracted"]


def test_extracts_zip_with_untar_free_name(server: _Server, tmp_path: Path) -> None:
    server.files["/bundle.zip"] = _zip_bytes({"x.txt": b"X"})
    path = get_file("bundle", server.url("/bundle.zip"), extract=True, cache_dir=tmp_path)
    folder = tmp_path / "datasets"
    assert path == str(folder / "bundle")
    assert (folder / "bundle_archive").is_file()
    assert (Path(path) / "x.txt").read_bytes() == b"X"
    server.stop()
    assert get_file("bundle", server.url("/bundle.zip"), extract=True, cache_dir=tmp_path) == path


def test_untar_argument_extracts(server: _Server, tmp_path: Path) -> None:
    server.files["/old.tgz"] = _tar_bytes({"f.txt": b"F"})
    path = get_file(origin=server.url("/old.tgz"), untar=True, cache_dir=tmp_path)
    assert path == str(tmp_path / "datasets" / "old.tgz")
    assert (Path(path) / "f.txt").read_bytes() == b"F"


def test_extraction_skips_members_escaping_the_folder(server: _Server, tmp_path: Path) -> None:
    server.files["/evil.tar.gz"] = _tar_bytes({"ok.txt": b"ok", "../evil.txt": b"bad"})
    with pytest.warns(UserWarning, match="outside the target folder"):
        path = get_file("evil.tar.gz", server.url("/evil.tar.gz"), extract=True, cache_dir=tmp_path)
    assert (Path(path) / "ok.txt").read_bytes() == b"ok"
    assert not (tmp_path / "datasets" / "evil.txt").exists()


def test_non_archive_extraction_warns(server: _Server, tmp_path: Path) -> None:
    server.files["/plain.txt"] = b"not an archive"
    with pytest.warns(UserWarning, match="Could not extract"):
        get_file("plain.txt", server.url("/plain.txt"), extract=True, cache_dir=tmp_path)


def test_extraction_layout_matches_keras(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    server.files["/pack.tar.gz"] = _tar_bytes({"pack/a.txt": b"A"})
    server.files["/bundle.zip"] = _zip_bytes({"x.txt": b"X"})
    # Keras falls back to /tmp/.keras when the cache folder does not exist yet; create both.
    (tmp_path / "kfit").mkdir()
    (tmp_path / "keras").mkdir()
    cases = [("pack.tar.gz", "/pack.tar.gz"), ("bundle", "/bundle.zip"), (None, "/bundle.zip")]
    for fname, url_path in cases:
        ours = get_file(fname, server.url(url_path), extract=True, cache_dir=tmp_path / "kfit")
        theirs = keras.utils.get_file(
            fname, server.url(url_path), extract=True, cache_dir=str(tmp_path / "keras")
        )
        assert os.path.relpath(ours, tmp_path / "kfit") == os.path.relpath(
            theirs, tmp_path / "keras"
        )
        ours_files = sorted(str(p.relative_to(ours)) for p in Path(ours).rglob("*"))
        theirs_files = sorted(str(p.relative_to(theirs)) for p in Path(theirs).rglob("*"))
        assert ours_files == theirs_files


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"origin": None}, r"Expected `origin`.*Received: origin=None \(of type NoneType\)"),
        ({"fname": "a/b.txt"}, r"Expected `fname` to be a plain file name.*cache_subdir"),
        ({"hash_algorithm": "sha265"}, r"Did you mean 'sha256'\?"),
        ({"extract": True, "archive_format": "zipp"}, r"Did you mean 'zip'\?"),
        ({"origin": "http://127.0.0.1:9/"}, r"Expected `fname` to be given"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], expected: str, tmp_path: Path) -> None:
    arguments: dict[str, object] = {"origin": "http://127.0.0.1:9/f.bin", "cache_dir": tmp_path}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=expected):
        get_file(**arguments)  # type: ignore[arg-type]


def test_download_uses_a_timeout(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []
    real_urlopen = file_utils.urllib.request.urlopen

    def spy(url: str, timeout: float) -> object:
        seen.append(timeout)
        return real_urlopen(url, timeout=timeout)

    monkeypatch.setattr(file_utils.urllib.request, "urlopen", spy)
    monkeypatch.setattr(file_utils, "DOWNLOAD_TIMEOUT", 7.5)
    server.files["/data.bin"] = PAYLOAD
    get_file("data.bin", server.url("/data.bin"), cache_dir=tmp_path)
    assert seen == [7.5]


def test_hash_comparison_ignores_hex_case(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    upper = _sha256(PAYLOAD).upper()
    path = get_file("data.bin", server.url("/data.bin"), file_hash=upper, cache_dir=tmp_path)
    server.stop()
    assert get_file("data.bin", server.url("/data.bin"), file_hash=upper, cache_dir=tmp_path) == path
