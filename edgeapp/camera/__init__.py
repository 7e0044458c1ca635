"""Frame sources: image files, folders, video files, and live cameras."""

import os

# FFmpeg's own log (via OpenCV) prints a line per damaged packet: 200,000 lines in 20 s for a file that opens but
# decodes nothing. Our sources report such failures themselves, once, in our words. Set before the first capture
# opens (OpenCV reads it then); OPENCV_FFMPEG_LOGLEVEL=16 (errors) or 24 (warnings) brings FFmpeg's log back.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from edgeapp.camera.frame import Frame, FrameSource
from edgeapp.camera.files import open_source

__all__ = ["Frame", "FrameSource", "open_source"]
