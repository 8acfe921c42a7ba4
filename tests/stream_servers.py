"""Real stream servers for the source tests: an HTTP MJPEG server (stdlib) and the GStreamer RTSP server.

The MJPEG server serves, for a JPEG file's bytes:

* ``/stream``: the image as ``multipart/x-mixed-replace`` frames at ``fps``, forever;
* ``/drop``: 5 frames per connection, then the connection closes; after ``drops`` connections, 404;
* ``/stall``: 3 frames, then nothing (the connection stays open);
* ``/still.jpg``: the image once; ``/clip.mp4``: the video file given; ``/page``: an HTML page (not a stream).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
