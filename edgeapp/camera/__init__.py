"""Frame sources: image files, folders, video files, and live cameras."""

from edgeapp.camera.frame import Frame, FrameSource
from edgeapp.camera.files import open_source

__all__ = ["Frame", "FrameSource", "open_source"]
