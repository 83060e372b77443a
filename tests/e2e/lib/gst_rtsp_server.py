#!/usr/bin/python3
"""GStreamer's RTSP server for surge's end-to-end tests and benchmarks.

usage: /usr/bin/python3 gst_rtsp_server.py PORT READY_FILE [PIPELINE] [--user U:P [--digest]]

Serves one shared live media at rtsp://127.0.0.1:PORT/test (one encoder for
every reader), interleaved TCP allowed. Writes the port to READY_FILE once
listening. Stop it with SIGTERM. Run with /usr/bin/python3: another python3
on PATH may not import gi (PEERS.md).
"""
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

DEFAULT = ("( videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=25/1 "
           "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=500 "
           "! rtph264pay name=pay0 pt=96 config-interval=1 )")


def main():
    args = [a for a in sys.argv[1:]]
    user = None
    digest = False
    if "--digest" in args:
        args.remove("--digest")
        digest = True
    if "--user" in args:
        i = args.index("--user")
        user = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        sys.stderr.write(__doc__)
        return 2
    port, ready = args[0], args[1]
    pipeline = args[2] if len(args) > 2 else DEFAULT

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    server.set_backlog(4096)  # the default of 5 refuses bursts of readers
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(pipeline)
    factory.set_shared(True)  # one encoder for all readers
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP)
    if user:
        name, password = user.split(":", 1)
        a = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        if digest:
            a.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            a.add_digest(name, password, token)
        else:
            a.add_basic(GstRtspServer.RTSPAuth.make_basic(name, password), token)
        server.set_auth(a)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        perms.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(perms)
    server.get_mount_points().add_factory("/test", factory)
    if server.attach(None) == 0:
        sys.stderr.write("cannot listen on 127.0.0.1:%s\n" % port)
        return 1

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    tmp = ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.get_bound_port())
    os.rename(tmp, ready)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
