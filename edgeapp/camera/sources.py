"""Choosing the service's frame source from ``[source] uri``."""

from __future__ import annotations

from pathlib import Path

from edgeapp.camera.files import VIDEO_SUFFIXES, VideoFileSource, open_source, what_is
from edgeapp.camera.live import OpenCVCamera, Picamera2Camera, is_device, is_stream, picamera_index
from edgeapp.camera.reconnect import ReconnectingSource
from edgeapp.camera.rotation import RotatedSource
from edgeapp.config import SourceConfig
from edgeapp.errors import ConfigError


def open_service_source(cfg: SourceConfig):
    """A source that never ends the service because a camera failed: live cameras reconnect (a device may appear
    later), a video file that vanishes or stops yielding frames is retried with backoff and reported. A file or
    folder that is not there at start is a config error: nothing would ever make it appear. Its frames are
    turned upright by ``source.rotate``."""
    source = _camera_or_file(cfg)
    return RotatedSource(source, cfg.rotate) if cfg.rotate else source


def _camera_or_file(cfg: SourceConfig):
    uri = cfg.uri
    index = picamera_index(uri)
    if index is not None:
        return ReconnectingSource(lambda: Picamera2Camera(index, cfg.width, cfg.height, cfg.fps), uri,
                                  cfg.reconnect_min_s, cfg.reconnect_max_s)
    if is_device(uri) or is_stream(uri):
        return ReconnectingSource(lambda: OpenCVCamera(uri, cfg.width, cfg.height, cfg.fps, cfg.read_timeout_s), uri,
                                  cfg.reconnect_min_s, cfg.reconnect_max_s)
    path = Path(uri)
    if not path.exists():
        raise ConfigError("source.uri", f"{path} is not there (a file or folder source must exist when the service starts)")
    if not (path.is_file() or path.is_dir()):  # a FIFO or socket: OpenCV would block on it or never open it
        raise ConfigError("source.uri", f"{path} is {what_is(path)}, not a file, folder or camera")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return VideoFileSource(path, loop=cfg.loop, retry=True,
                               reconnect_min_s=cfg.reconnect_min_s, reconnect_max_s=cfg.reconnect_max_s)
    return open_source(path)
