"""Cameras that fail, vanish and come back, with real streams and files."""

from __future__ import annotations

import shutil
import threading
import time

import cv2
import numpy as np
import pytest

from support.shared import IMAGES, VIDEO
from edgeapp.camera.capture import Capture, EndOfStream
from edgeapp.camera.files import VideoFileSource
from edgeapp.camera.live import OpenCVCamera
from edgeapp.camera.reconnect import ReconnectingSource
from edgeapp.camera.sources import open_service_source
from edgeapp.config import SourceConfig
from support.mjpeg import MjpegCamera


def wait_until(predicate, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture
def mjpeg():
    camera = MjpegCamera(cv2.imread(str(IMAGES / "squat.bmp")), fps=50)
    yield camera
    camera.stop()


class Consumer:
    """Reads a source through a Capture on a thread, as the frame loop does, keeping every frame."""

    def __init__(self, source):
        self.source = source
        self.frames: list = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=_consume, args=(source, self.frames, self.stop))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.source.close()
        self.thread.join(10)


def _consume(source, frames: list, stop: threading.Event):
    capture = Capture(source).start()
    try:
        while not stop.is_set():
            try:
                frame = capture.get(timeout=0.2)
            except EndOfStream:
                return
            if frame is not None:
                frames.append(frame)
    finally:
        capture.stop()


def test_stream_cut_and_restored_resumes(mjpeg):
    source = ReconnectingSource(lambda: OpenCVCamera(mjpeg.url, timeout_s=2), mjpeg.url,
                                reconnect_min_s=0.1, reconnect_max_s=0.5)
    with Consumer(source) as c:
        assert wait_until(lambda: len(c.frames) >= 10)
        mjpeg.stop()  # the camera goes away
        assert wait_until(lambda: source.status.state == "down")
        assert source.status.outages == 1 and source.status.last_error
        count = len(c.frames)
        mjpeg.start()  # and comes back on the same address
        assert wait_until(lambda: len(c.frames) >= count + 10)
        assert source.status.state == "up" and source.status.reconnects == 1
        assert c.frames[-1].image.shape == (610, 500, 3)


def test_frames_that_fail_to_decode_are_counted_and_survived(mjpeg):
    source = ReconnectingSource(lambda: OpenCVCamera(mjpeg.url, timeout_s=2), mjpeg.url,
                                reconnect_min_s=0.1, reconnect_max_s=0.5, max_bad_frames=5)
    with Consumer(source) as c:
        assert wait_until(lambda: len(c.frames) >= 5)
        mjpeg.garbage.set()
        assert wait_until(lambda: source.status.bad_frames >= 5)
        mjpeg.garbage.clear()
        count = len(c.frames)
        assert wait_until(lambda: len(c.frames) >= count + 10)
        assert all(f.image.ndim == 3 for f in c.frames)


def test_looping_file_removed_and_restored(tmp_path):
    clip = tmp_path / "clip.mp4"
    shutil.copyfile(VIDEO / "carving_ice.mp4", clip)
    source = VideoFileSource(clip, loop=True, retry=True, reconnect_min_s=0.05, reconnect_max_s=0.2)
    with Consumer(source) as c:
        assert wait_until(lambda: len(c.frames) >= 10)
        clip.unlink()  # the reader keeps its open file; the next loop finds nothing
        assert wait_until(lambda: source.status.state == "down", timeout=60)
        assert "not there" in source.status.last_error
        count = len(c.frames)
        shutil.copyfile(VIDEO / "carving_ice.mp4", clip)
        assert wait_until(lambda: len(c.frames) >= count + 10, timeout=30)
        assert source.status.reconnects == 1
        times = [f.time for f in c.frames]
        assert times == sorted(times)  # media time keeps increasing across loops


@pytest.mark.parametrize("fourcc, suffix", [("mp4v", ".mp4"), ("MJPG", ".avi")])
def test_a_short_looping_clip_starting_over_is_no_outage(tmp_path, fourcc, suffix):
    """A 1.5 s clip looped three times: each pass is the whole file, so no pass is reported as the camera down."""
    clip = tmp_path / f"short{suffix}"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*fourcc), 20, (160, 120))
    for i in range(30):
        writer.write(np.full((120, 160, 3), i * 8, np.uint8))
    writer.release()
    source = VideoFileSource(clip, loop=True, retry=True)
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 3 * 30 + 1:  # into a fourth pass: the third one has ended
            source.close()
    assert (source.status.state, source.status.outages, source.status.last_error) == ("up", 0, "")
    times = [f.time for f in frames]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_missing_device_reports_and_retries():
    source = open_service_source(SourceConfig(uri="/dev/video99", reconnect_min_s=0.05, reconnect_max_s=0.1))
    with Consumer(source) as c:
        assert wait_until(lambda: source.status.outages == 1)
        assert "/dev/video99 is not there" in source.status.last_error
        time.sleep(0.3)
        assert c.thread.is_alive() and c.frames == []  # still trying, not crashed


def test_picamera2_off_a_pi_is_a_clear_outage():
    source = open_service_source(SourceConfig(uri="picamera2", reconnect_min_s=0.05, reconnect_max_s=0.1))
    with Consumer(source):
        assert wait_until(lambda: source.status.outages == 1)
        assert "python3-picamera2" in source.status.last_error


def test_files_are_never_dropped_live_frames_are():
    source = VideoFileSource(VIDEO / "carving_ice.mp4")
    capture = Capture(source).start()
    seen = []
    while True:
        try:
            frame = capture.get(timeout=5)
        except EndOfStream:
            break
        if frame is not None:
            seen.append(frame.index)
            time.sleep(0.002)  # slower than decoding: a file must wait, not drop
    assert seen == list(range(200)) and capture.dropped == 0


def test_live_capture_keeps_only_the_newest_frame(mjpeg):
    source = ReconnectingSource(lambda: OpenCVCamera(mjpeg.url, timeout_s=2), mjpeg.url)
    capture = Capture(source).start()
    try:
        assert wait_until(lambda: capture.get(timeout=0.1) is not None)
        first = capture.get(timeout=1)
        time.sleep(0.5)  # consumer stalls; about 25 frames arrive meanwhile
        frame = capture.get(timeout=1)
        assert first is not None and frame is not None and capture.dropped >= 5
        # The newest frame, not the next one in line: no backlog was kept.
        assert frame.index - first.index >= 5, (first.index, frame.index)
    finally:
        capture.stop()


def test_an_outage_is_said_again_only_for_a_new_reason_and_at_most_every_repeat_s():
    from edgeapp.camera.reconnect import CameraStatus

    status = CameraStatus(repeat_s=0.0)
    for _ in range(3):
        status.went_down("cam", "camera /dev/video0 is not there")
    assert (status.outages, status.reports) == (1, 1)  # retries with the same reason: one outage, said once
    status.went_down("cam", "cannot open camera /dev/video0")  # it appeared, but is busy
    assert (status.outages, status.reports, status.state) == (1, 2, "down")
    slow = CameraStatus(repeat_s=3600.0)
    slow.went_down("cam", "a")
    slow.went_down("cam", "b")  # too soon after the first report: kept for later, still the last error
    assert (slow.outages, slow.reports, slow.last_error) == (1, 1, "b")
    slow.came_up("cam")
    slow.went_down("cam", "b")  # a new outage is always said
    assert (slow.outages, slow.reports, slow.reconnects) == (2, 2, 1)
