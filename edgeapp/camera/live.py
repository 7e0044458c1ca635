"""Live cameras: V4L2 devices and network streams through OpenCV, CSI cameras through picamera2.

Each camera is a small object with ``open()``, ``read()`` (an image, or None when the
camera failed to deliver one) and ``close()``; :mod:`edgeapp.camera.reconnect` turns
any of them into a frame source that survives the camera going away.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from edgeapp.camera.files import what_is
from edgeapp.errors import SourceError

_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
_PICAMERA = re.compile(r"^picamera2(?::(\d+))?$")


def is_stream(uri: str) -> bool:
    return uri.lower().startswith(_STREAM_SCHEMES)


def is_device(uri: str) -> bool:
    return uri.startswith("/dev/video") or uri.isdigit()


def picamera_index(uri: str) -> int | None:
    m = _PICAMERA.match(uri)
    return None if m is None else int(m.group(1) or 0)


class OpenCVCamera:
    """A V4L2 device (``/dev/video0``) or a stream URL read with OpenCV's FFmpeg backend."""

    def __init__(self, uri: str, width: int = 640, height: int = 480, fps: float = 30.0, timeout_s: float = 5.0):
        self.uri = uri
        self.width, self.height, self.fps = width, height, fps
        self.timeout_ms = int(timeout_s * 1000)
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        if is_device(self.uri):
            target = int(self.uri) if self.uri.isdigit() else self.uri
            if isinstance(target, str):
                kind = what_is(target)
                if not kind:
                    raise SourceError(f"camera {self.uri} is not there (unplugged, or not enabled?)")
                if kind != "a character device":
                    raise SourceError(f"camera {self.uri} is {kind}, not a video device")
            cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queue
        else:
            # Timeouts keep a dead stream from blocking read() forever.
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.timeout_ms]
            cap = cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open camera {self.uri}")
        self._cap = cap

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        return image if ok else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class Picamera2Camera:
    """A CSI camera through picamera2 (apt's python3-picamera2), imported only when chosen."""

    def __init__(self, index: int = 0, width: int = 640, height: int = 480, fps: float = 30.0):
        self.uri = f"picamera2:{index}"
        self.index, self.width, self.height, self.fps = index, width, height, fps
        self._cam = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise SourceError(
                "picamera2 is not importable: on Raspberry Pi OS install python3-picamera2 with apt and make the "
                f"venv with --system-site-packages ({exc})"
            ) from None
        try:
            cam = Picamera2(self.index)
            # RGB888 is B, G, R in memory: what OpenCV calls BGR, so no conversion per frame.
            config = cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": "RGB888"},
                controls={"FrameRate": self.fps},
                buffer_count=2,
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:  # libcamera raises a variety of errors for a missing or busy sensor
            raise SourceError(f"cannot start camera {self.uri}: {exc}") from exc
        self._cam = cam

    def read(self) -> np.ndarray | None:
        if self._cam is None:
            return None
        try:
            return self._cam.capture_array("main")
        except Exception:  # a sensor that went away: reported by the reconnecting source
            return None

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            finally:
                self._cam = None
