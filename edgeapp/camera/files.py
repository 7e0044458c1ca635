"""Sources read from disk: one image, a folder of images, a video file."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from edgeapp.camera.frame import Frame
from edgeapp.backoff import backoff_delays
from edgeapp.camera.reconnect import CameraStatus
from edgeapp.errors import SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg"})


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISREG, "a regular file"))


def what_is(path: Path | str) -> str:
    """What a path is, in words, for messages about a path of the wrong kind ("" when it is not there)."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return ""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def jpeg_is_whole(data: bytes) -> bool:
    """False for a JPEG cut short: no end-of-image marker (FF D9) after its first scan. libjpeg decodes such a
    file with a stderr warning and grey for the missing rows, which OpenCV returns as a whole image. The header
    segments are skipped by their lengths (an EXIF thumbnail carries its own end marker); in scan data FF is
    always followed by 00 or a restart marker, so FF D9 there is the end. Not a JPEG: True (the decoder judges)."""
    if not data.startswith(b"\xff\xd8"):
        return True
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return True  # not a layout we know: leave it to the decoder
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0xDA:  # start of scan
            return data.find(b"\xff\xd9", i) != -1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD9:  # markers without a length
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return False  # ended within the headers


def read_image(path: Path) -> "cv2.typing.MatLike":
    # A cut-short JPEG is refused like an undecodable file: most of such an image is libjpeg's grey filler, and a
    # pose or label found on it would describe pixels that were never in the photo.
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read image {path}: {exc.strerror or exc}") from None
    if not jpeg_is_whole(data):
        raise SourceError(f"image {path} is cut short: a JPEG without its end marker (FF D9), truncated in a copy?")
    # Decoded from the bytes just read, not read again. imdecode turns the picture by its EXIF orientation as
    # imread does (seen on OpenCV 4.11 and 5.0: the same pixels for JPEG, PNG, WebP and TIFF, but for a TIFF
    # turned by 90 degrees, which imread fails to decode at all); an empty buffer is an assertion error to it.
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise SourceError(f"cannot decode image {path}")
    return image


class ImageSource:
    """One image, or every image of a folder in name order. Still images: each frame stands alone,
    unless ``fps`` says the folder is a sequence (a video's frames): then frame ``i`` is at ``i / fps``."""

    live = False

    def __init__(self, paths: list[Path], name: str, fps: float | None = None):
        self.paths = paths
        self.name = name
        self.fps = fps
        self.still = fps is None
        self.skipped: list[tuple[Path, str]] = []

    def frames(self) -> Iterator[Frame]:
        for i, path in enumerate(self.paths):
            try:
                image = read_image(path)
            except SourceError as exc:
                if len(self.paths) == 1:
                    raise
                log.warning("skipping %s", exc)
                self.skipped.append((path, str(exc)))
                continue
            yield Frame(image=image, index=i, time=float(i) if self.fps is None else i / self.fps, source=str(path))

    def close(self) -> None:
        pass


class VideoFileSource:
    """A video file read frame by frame, never dropping; frame time is the media time.

    With ``retry`` (the service), a file that cannot be opened, now or when a loop
    starts again, is retried with backoff and reported instead of ending the run.
    """

    live = False
    still = False

    def __init__(self, path: Path, loop: bool = False, retry: bool = False,
                 reconnect_min_s: float = 0.5, reconnect_max_s: float = 30.0):
        self.path = path
        self.name = str(path)
        self.loop = loop
        self.retry = retry
        self.reconnect = (reconnect_min_s, reconnect_max_s)
        self.status = CameraStatus(repeat_s=reconnect_max_s)
        self._stop = threading.Event()
        self._cap: cv2.VideoCapture | None = None

    def _open(self) -> cv2.VideoCapture:
        if not self.path.is_file():
            kind = what_is(self.path)
            raise SourceError(f"video {self.path} is {kind}, not a video file" if kind else f"video {self.path} is not there")
        # One decoder thread: a file is read at the pace of inference, which one thread outruns, and
        # FFmpeg's frame threading costs ~30% more CPU, taken from the models it runs beside.
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, 1])
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video {self.path}")
        return cap

    def _open_with_retry(self) -> cv2.VideoCapture | None:
        delays = backoff_delays(*self.reconnect)
        while not self._stop.is_set():
            try:
                return self._open()
            except SourceError as exc:
                if not self.retry:
                    raise
                self.status.went_down(self.name, str(exc))
                self._stop.wait(next(delays))
        return None

    def frames(self) -> Iterator[Frame]:
        """Every frame, then the file's end; a pass that ends short of the file's frame count (truncated or
        damaged) or yields nothing raises SourceError, except when looping in the service: then it is
        reported on ``status`` and the file is tried again, with backoff while it yields nothing.

        A damaged file found damaged again on the next pass is one outage that stays open while what decodes
        plays on: only a whole pass ends it (frames at the start of a pass prove nothing about its end)."""
        index = 0
        offset = 0.0
        empty = backoff_delays(*self.reconnect)
        damaged = False  # the last pass ended short: the outage is the file's damage
        while not self._stop.is_set():
            self._cap = cap = self._open_with_retry()
            if cap is None:
                return
            fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
            expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            n = 0
            while not self._stop.is_set():
                ok, image = cap.read()
                if not ok:
                    break
                if n == 0 and not damaged:
                    self.status.came_up(self.name)
                yield Frame(image=image, index=index, time=offset + n / fps, source=self.name)
                index += 1
                n += 1
            cap.release()
            if self._stop.is_set():
                return
            problem = ended_early(self.path, n, expected)
            if problem and not (self.retry and self.loop):
                raise SourceError(problem)
            if problem:
                self.status.went_down(self.name, problem)
            elif damaged:
                self.status.came_up(self.name)
            damaged = bool(problem) and n > 0
            if n == 0:  # opens but yields nothing: wait as for any failure instead of spinning
                self._stop.wait(next(empty))
                continue
            empty = backoff_delays(*self.reconnect)
            if not self.loop:
                return
            offset += n / fps

    def close(self) -> None:
        self._stop.set()


def ended_early(path: Path, frames: int, expected: int) -> str:
    """Why a pass over a video is not a whole file ("" when it is). ``expected`` is the container's frame count
    (0 when it has none). The count is exact for intact mp4 and avi files; where FFmpeg estimates it from duration
    x fps it can be a rounding off, hence the allowance of one frame or 1%, whichever is more."""
    if frames == 0:
        return f"no decodable frames in video {path}: it is empty, truncated or damaged"
    if expected and frames < expected - max(1, expected // 100):
        return f"video {path} ended after {frames} of its {expected} frames: it is truncated or damaged"
    return ""


def open_source(uri: str | Path, loop: bool = False, retry: bool = False,
                sequence_fps: float | None = None) -> ImageSource | VideoFileSource:
    """An image, a folder of images or a video file, chosen by what the path is. With
    ``sequence_fps``, a folder is one sequence at that frame rate, not unrelated stills."""
    path = Path(uri)
    if path.is_dir():
        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise SourceError(f"folder {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return ImageSource(images, name=str(path), fps=sequence_fps)
    if not path.exists():
        raise SourceError(f"no such file or folder: {path}")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return ImageSource([path], name=str(path))
    if suffix in VIDEO_SUFFIXES:
        return VideoFileSource(path, loop=loop, retry=retry)
    raise SourceError(f"{path}: unknown file type {suffix or '(none)'}; expected an image, a folder or a video")
