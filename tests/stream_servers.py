"""Real stream servers for the source tests: an HTTP MJPEG server (stdlib), the GStreamer RTSP server, an HLS
live playlist (FFmpeg's HLS muxer, served by the stdlib HTTP server) and an RTMP stream (FFmpeg in listen mode).

The MJPEG server serves, for a JPEG file's bytes:

* ``/stream``: the image as ``multipart/x-mixed-replace`` frames at ``fps``, forever;
* ``/drop``: 5 frames per connection, then the connection closes; after ``drops`` connections, 404;
* ``/stall``: 3 frames, then nothing (the connection stays open);
* ``/still.jpg``: the image once; ``/clip.mp4``: the video file given; ``/page``: an HTML page (not a stream).
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
_BOUNDARY = "liteframe"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(BaseHTTPRequestHandler):
    jpeg: bytes = b""
    video: bytes = b""
    fps: float = 20.0
    drops_left: list = [2]  # noqa: RUF012 - shared counter of the server

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _frames(self, n: int | None, hang: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={_BOUNDARY}")
        self.end_headers()
        k = 0
        try:
            while n is None or k < n:
                part = (
                    f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(self.jpeg)}\r\n\r\n"
                ).encode()
                self.wfile.write(part + self.jpeg + b"\r\n")
                self.wfile.flush()
                k += 1
                time.sleep(1.0 / self.fps)
            while hang and not self.server.closing:  # type: ignore[attr-defined]
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            return

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = self.path.split("?")[0]
        if path == "/stream":
            self._frames(None)
        elif path == "/drop":
            if self.drops_left[0] <= 0:
                self.send_error(404)
                return
            self.drops_left[0] -= 1
            self._frames(5)
        elif path == "/stall":
            self._frames(3, hang=True)
        elif path == "/still.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(self.jpeg)))
            self.end_headers()
            self.wfile.write(self.jpeg)
        elif path == "/clip.mp4" and self.video:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(self.video)))
            self.end_headers()
            self.wfile.write(self.video)
        elif path == "/page":
            body = b"<html><body>not a stream</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)


@contextlib.contextmanager
def mjpeg_server(jpeg: Path, fps: float = 20.0, drops: int = 2, video: Path | None = None) -> Iterator[str]:
    """Serve ``jpeg`` (and ``video`` as ``/clip.mp4``; see the module docstring); yields ``http://127.0.0.1:PORT``."""
    attrs = {"jpeg": Path(jpeg).read_bytes(), "fps": fps, "drops_left": [drops]}
    if video is not None:
        attrs["video"] = Path(video).read_bytes()
    handler = type("Handler", (_Handler,), attrs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.closing = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="mjpeg-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.closing = True  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
        thread.join(5)


def _gi_works() -> str | None:
    """None when the system python has GStreamer's RTSP server, else why not."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is absent"
    code = (
        "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0'); "
        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
        "assert Gst.ElementFactory.find('x264enc'), 'x264enc missing'"
    )
    r = subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    return None if r.returncode == 0 else r.stderr.strip().splitlines()[-1]


@contextlib.contextmanager
def rtsp_server(jpeg: Path, fps: int = 10) -> Iterator[str]:
    """GStreamer's RTSP server looping ``jpeg`` as H.264 (tests/rtsp_server.py); yields the stream URL.

    Skips only where apt is absent (the packages cannot be installed); with apt, missing packages fail.
    """
    why = _gi_works()
    if why is not None:
        if shutil.which("apt-get") is None:
            pytest.skip(f"no GStreamer RTSP server here and no apt-get to install it ({why})")
        pytest.fail(f"GStreamer RTSP server unusable ({why}); .ci/run installs gir1.2-gst-rtsp-server-1.0 & co")
    port = free_port()
    script = Path(__file__).with_name("rtsp_server.py")
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(script), str(port), str(jpeg), str(fps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "ready", f"the RTSP server did not start: {line!r}"
        yield f"rtsp://127.0.0.1:{port}/test"
    finally:
        _stop(proc)


def _ffmpeg() -> str:
    """The ``ffmpeg`` program; skips only where apt is absent (it cannot be installed), else fails."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        if shutil.which("apt-get") is None:
            pytest.skip("no ffmpeg here and no apt-get to install it")
        pytest.fail("ffmpeg is missing; .ci/run installs the Debian package ffmpeg")
    return exe


def _encode_args(jpeg: Path, fps: int) -> list[str]:
    """FFmpeg reading ``jpeg`` looped in real time at ``fps``, encoding H.264 (near-lossless, a key frame a second)."""
    return [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-loop", "1", "-framerate", str(fps),
            "-i", str(jpeg), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-qp", "10",
            "-g", str(fps), "-pix_fmt", "yuv420p"]  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _wait(ready, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    """Poll ``ready()`` until it holds; fail with FFmpeg's own message if it exits or ``timeout`` passes."""
    t_end = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"{what}: ffmpeg exited with {proc.returncode}: {err.strip()[-300:]}")
        if time.monotonic() > t_end:
            pytest.fail(f"{what} not ready within {timeout:g} s")
        time.sleep(0.1)


@contextlib.contextmanager
def hls_server(jpeg: Path, folder: Path, fps: int = 10) -> Iterator[str]:
    """A live HLS stream of ``jpeg`` looped: FFmpeg's HLS muxer writes 1 s segments and a sliding playlist into
    ``folder``, the stdlib HTTP server serves it; yields the playlist URL (``http://127.0.0.1:PORT/live.m3u8``)."""
    folder.mkdir(parents=True, exist_ok=True)
    playlist = folder / "live.m3u8"
    cmd = _encode_args(jpeg, fps) + ["-f", "hls", "-hls_time", "1", "-hls_list_size", "5", str(playlist)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    handler = type("Files", (SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hls-server", daemon=True)
    thread.start()
    try:
        # two segments listed: a reader starting now finds more than one second of video
        _wait(lambda: playlist.is_file() and playlist.read_text().count(".ts") >= 2, proc, "the HLS playlist")
        yield f"http://127.0.0.1:{server.server_address[1]}/live.m3u8"
    finally:
        _stop(proc)
        server.shutdown()
        server.server_close()
        thread.join(5)


def _listening(port: int) -> bool:
    """Whether a TCP socket listens on ``port`` (read from /proc: a test connection would use up the one
    connection FFmpeg's RTMP listen mode accepts)."""
    hexport = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if local.endswith(hexport) and state == "0A":
                    return True
    return False


@contextlib.contextmanager
def rtmp_server(jpeg: Path, fps: int = 10) -> Iterator[str]:
    """An RTMP stream of ``jpeg`` looped: FFmpeg as the RTMP server (``-listen 1``, FLV, one player); yields the URL.

    Skips where /proc/net/tcp is absent (not Linux: the port cannot be watched without using the connection up).
    """
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs /proc/net/tcp to see when FFmpeg listens")
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/scene"
    proc = subprocess.Popen(_encode_args(jpeg, fps) + ["-f", "flv", "-listen", "1", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _wait(lambda: _listening(port), proc, "the RTMP server")
        yield url
    finally:
        _stop(proc)
