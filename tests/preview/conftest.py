"""Preview fixtures: a pipeline stand-in fed with real frames, the tree clip, HTTP helpers."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from support.shared import IMAGES
from edgeapp.bench.preview import make_pose_clip
from edgeapp.camera.frame import Frame
from edgeapp.classify.classifier import Classification
from edgeapp.classify.hold import HoldState
from edgeapp.classify.stage import ClassifyResult
from edgeapp.events import StatsEvent
from edgeapp.latency import LatencySummary
from edgeapp.pose import Pose
from edgeapp.service.pipeline import FrameResult, PipelineStats

TREE = IMAGES / "tfex_pose_image3_tree.jpeg"


@pytest.fixture(scope="session")
def tree_clip(tmp_path_factory) -> Path:
    """Two seconds of the tree pose (classified as ``tree``) drifting a few pixels: frames differ."""
    return make_pose_clip(TREE, tmp_path_factory.mktemp("clip") / "tree.mp4", frames=30, fps=15.0)


class FakePipeline:
    """What the preview reads of a ``Pipeline``, fed by a thread at ``fps`` with real ``FrameResult``s."""

    def __init__(self, fps: float = 30.0):
        self.stats = PipelineStats()
        self.latest: FrameResult | None = None
        self.progress_at = time.monotonic()
        self.fps = fps
        self._stop = threading.Event()
        self.stall = threading.Event()  # set: the loop stays alive but stops turning (a hung inference)
        self._thread = threading.Thread(target=self._run, daemon=True)
        rng = np.random.default_rng(0)
        self.xy = rng.uniform(0.3, 0.7, size=(17, 2))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def backend(self) -> tuple[str, bool]:
        return "cpu", False

    def camera(self) -> dict:
        return {"state": "up", "outages": 0, "reconnects": 0, "bad_frames": 0, "last_error": ""}

    def stats_event(self) -> StatsEvent:
        return StatsEvent(uptime_s=12.5, fps=self.stats.fps(), backend="cpu", fallback=False, dropped_frames=3,
                          models={"pose": LatencySummary(10, 7.5, 9.0, 7.7)})

    def result(self, index: int) -> FrameResult:
        image = np.full((240, 320, 3), index % 200, np.uint8)
        pose = Pose(self.xy, np.full(17, 0.8), (320, 240))
        c = Classification("tree", 0.9, (("tree", 0.9),), "ok", 0.8)
        hold = HoldState("tree", index / self.fps, 0.0, None, 0)
        return FrameResult(Frame(image, index, index / self.fps, "fake"), pose, ClassifyResult(c, hold, ()))

    def start(self) -> FakePipeline:
        self._thread.start()
        return self

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(1.0 / self.fps):
            if self.stall.is_set():
                continue
            self.progress_at = time.monotonic()
            self.latest = self.result(i)
            self.stats.frames += 1
            self.stats.frame_times.add(1.0 / self.fps)
            i += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def fake_pipeline():
    p = FakePipeline().start()
    yield p
    p.stop()


def get(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, bytes, dict]:
    """(status, body, headers), also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def get_json(url: str, **kw) -> tuple[int, dict]:
    status, body, _ = get(url, **kw)
    return status, json.loads(body)


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s")
