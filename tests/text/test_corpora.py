"""Named corpora: the built-in one, and downloads tested against a local HTTP server."""

import hashlib
import http.server
import threading
from functools import partial

import pytest

from rnnkit.text import corpora
from rnnkit.core.errors import RnnkitError


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1 for the duration of a test."""
    www = tmp_path / "www"
    www.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def register(monkeypatch, name, url, sha):
    monkeypatch.setitem(corpora.CORPORA, name, corpora.NamedCorpus(name, url, sha, "test corpus"))


def test_download_once_with_checksum(server, monkeypatch, tmp_path):
    www, base = server
    body = b"Once upon a time there was a tiny corpus.\n" * 100
    (www / "c.txt").write_bytes(body)
    register(monkeypatch, "tinytest", f"{base}/c.txt", hashlib.sha256(body).hexdigest())
    path = corpora.resolve("tinytest")
    assert path.read_bytes() == body and path.parent == corpora.cache_dir()
    (www / "c.txt").unlink()  # a second resolve must come from the cache
    assert corpora.resolve("tinytest").read_bytes() == body


def test_checksum_mismatch_saves_nothing(server, monkeypatch):
    www, base = server
    (www / "c.txt").write_bytes(b"tampered content")
    register(monkeypatch, "badsum", f"{base}/c.txt", "0" * 64)
    with pytest.raises(RnnkitError, match="checksum"):
        corpora.resolve("badsum")
    assert not (corpora.cache_dir() / "badsum.txt").exists()
    assert not any(p.name.startswith(".badsum") for p in corpora.cache_dir().iterdir())


def test_unreachable_source_is_a_clear_error(server, monkeypatch):
    _, base = server
    register(monkeypatch, "gone", f"{base}/missing.txt", "0" * 64)
    with pytest.raises(RnnkitError, match="could not download"):
        corpora.resolve("gone")


def test_builtin_corpus_needs_no_download():
    path = corpora.resolve("python-docs")
    text = path.read_text(encoding="utf-8")
    assert len(text) > 100_000 and "assert" in text
    assert corpora.resolve("python-docs").read_text(encoding="utf-8") == text  # deterministic


def test_unknown_name_and_missing_path():
    with pytest.raises(RnnkitError, match="neither a file nor a known corpus"):
        corpora.resolve("wonderland")
    with pytest.raises(RnnkitError, match="not found"):
        corpora.resolve("/no/such/file.txt")


def test_shared_copies_match_the_registered_checksums():
    from conftest import needs_shared

    for name, fname in (("alice", "alice.txt"), ("tinyshakespeare", "tinyshakespeare.txt")):
        p = needs_shared(fname)
        assert hashlib.sha256(p.read_bytes()).hexdigest() == corpora.CORPORA[name].sha256
