"""A GStreamer RTSP server for the stream tests, run with the system python (python3-gi).

Usage: ``/usr/bin/python3 tests/rtsp_server.py PORT IMAGE.jpg [FPS]`` serves the JPEG image, looped, as an
H.264 stream at ``rtsp://127.0.0.1:PORT/test``; it prints ``ready`` once listening and runs until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, image = sys.argv[1], sys.argv[2]
    fps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( multifilesrc location={image} loop=true caps=image/jpeg,framerate={fps}/1 ! jpegdec ! videoconvert "
        f"! video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
        "quantizer=10 pass=quant ! rtph264pay name=pay0 pt=96 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/test", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
