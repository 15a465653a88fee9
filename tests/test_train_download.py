"""`--download`: a generated archive served over HTTP on 127.0.0.1 by a
server that honours Range requests; resume, checksum, unpack."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading

import numpy as np
import pytest
import soundfile as sf

from training import download


def _archive() -> bytes:
    """A tiny v0.02-style archive: word folders, background noise, lists."""
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name: str, payload: bytes) -> None:
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

        for word in ("yes", "no", "marvin"):
            for spk in ("0a1b2c3d", "4e5f6a7b", "8c9d0e1f"):
                wav = io.BytesIO()
                sf.write(wav, (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000,
                         format="WAV", subtype="PCM_16")
                add(f"{word}/{spk}_nohash_0.wav", wav.getvalue())
        noise = io.BytesIO()
        sf.write(noise, (0.05 * rng.standard_normal(48000)).astype(np.float32), 16000,
                 format="WAV", subtype="PCM_16")
        add("_background_noise_/white_noise.wav", noise.getvalue())
        add("validation_list.txt", b"yes/0a1b2c3d_nohash_0.wav\n")
        add("testing_list.txt", b"no/4e5f6a7b_nohash_0.wav\n")
    return buf.getvalue()


class _Server:
    """Serves one payload at /speech_commands_v0.02.tar.gz, with Range, and
    records the Range headers it got."""

    def __init__(self, payload: bytes) -> None:
        ranges: list[str | None] = []
        self.ranges = ranges

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                ranges.append(self.headers.get("Range"))
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    if start >= len(payload):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                else:
                    self.send_response(200)
                body = payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/speech_commands_v0.02.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "_Server":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def payload() -> bytes:
    return _archive()


def test_download_resumes_checks_and_unpacks(payload, tmp_path):
    sha = hashlib.sha256(payload).hexdigest()
    part = tmp_path / "speech_commands_v0.02.tar.gz.part"
    part.write_bytes(payload[:len(payload) // 3])  # an interrupted earlier run
    with _Server(payload) as server:
        root = download.download_speech_commands(tmp_path, server.url, sha)
    assert server.ranges == [f"bytes={len(payload) // 3}-"]
    assert (tmp_path / "speech_commands_v0.02.tar.gz").read_bytes() == payload
    assert not part.exists()
    assert (root / "yes" / "0a1b2c3d_nohash_0.wav").is_file()
    assert (root / "validation_list.txt").is_file()

    from training import data

    split = data.split_clips(root)
    assert {c.word for c in split["validation"] if c.speaker} == {"yes"}
    assert any(c.label == "silence" for c in data.scan(root))
    # Done once: a second call neither downloads nor unpacks.
    assert download.download_speech_commands(tmp_path, "http://127.0.0.1:9/none", sha) == root


def test_checksum_mismatch_is_an_error_and_removes_the_file(payload, tmp_path):
    with _Server(payload) as server:
        with pytest.raises(download.DownloadError, match="checksum mismatch"):
            download.download_speech_commands(tmp_path, server.url, "0" * 64)
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob("*.tar.gz"))


def test_unreachable_server_keeps_the_partial_file(tmp_path):
    part = tmp_path / "speech_commands_v0.02.tar.gz.part"
    part.write_bytes(b"x" * 100)
    with pytest.raises(download.DownloadError, match="resume"):
        download.fetch("http://127.0.0.1:9/speech_commands_v0.02.tar.gz",
                       tmp_path / "speech_commands_v0.02.tar.gz", timeout_s=5)
    assert part.stat().st_size == 100
