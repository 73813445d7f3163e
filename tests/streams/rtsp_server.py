"""A real RTSP server for the stream tests: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0).

Run with Debian's system Python (it has python3-gi): ``/usr/bin/python3 rtsp_server.py PORT MOUNT VIDEO``.
Every client that connects to rtsp://127.0.0.1:PORT/MOUNT gets VIDEO (an H.264 MP4) from its start, paced
in real time like a camera; at its end the session ends, as when a camera drops. Prints "ready" when
listening. Killing the process is how the tests make the source disappear mid-stream.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, mount, video = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    location = video.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! h264parse config-interval=-1 '
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/" + mount.strip("/"), factory)
    if server.attach(None) == 0:
        sys.exit(f"could not listen on port {port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
