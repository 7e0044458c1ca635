"""edgeapp: pose, yoga classification, detection and pan/tilt tracking on a Raspberry Pi."""

import os

__version__ = "0.1.0"

# OpenCV's and FFmpeg's own logs write raw stderr lines that bypass our log format and priority: FFmpeg a line per
# damaged packet (200,000 lines in 20 s for a file that opens but decodes nothing), OpenCV a "[ WARN:...] can't be
# used to capture by name" on every retry of a closed stream. Our sources report such failures themselves, once, in
# our words. Set here, the package every entry point imports first: OPENCV_LOG_LEVEL is read when cv2 is imported
# (opencv-python 4.11 has no cv2.utils.logging to change it later), OPENCV_FFMPEG_LOGLEVEL when a capture opens.
# Setting either in the environment brings that log back (e.g. OPENCV_LOG_LEVEL=INFO, OPENCV_FFMPEG_LOGLEVEL=24).
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
