"""A real MJPEG-over-HTTP camera on loopback (what mjpg-streamer, ESP32-CAM and many IP cameras serve).

The test controls it: stop it to cut the camera, start it again on the same port to bring it back,
or make it send parts that are not JPEG to produce frames that fail to decode.
"""

from __future__ import annotations

import http.server
import threading
import time

import cv2
import numpy as np


class MjpegCamera:
    def __init__(self, image: np.ndarray, fps: float = 30.0, port: int = 0):
        ok, jpeg = cv2.imencode(".jpg", image)
        assert ok
        self.jpeg = jpeg.tobytes()
        self.period = 1.0 / fps
        self.garbage = threading.Event()  # set: send undecodable parts
        self.sent = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> None:
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while camera._server is not None:
                        data = b"not a jpeg " * 50 if camera.garbage.is_set() else camera.jpeg
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                                         + data + b"\r\n")
                        camera.sent += 1
                        time.sleep(camera.period)
                except OSError:
                    pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
