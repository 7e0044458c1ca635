"""What one frame's classification costs after different work, on the same poses (README, "Performance").

`edgeapp bench classify` times classification right after MoveNet, as the service runs it. This times the same
call (body guard, features, the classifier's invoke, probability smoothing, the open-set rule) on the same 60
poses of a clip after each of: nothing (the same call just before: warm), MoveNet on the frame, a copy of 8 MB,
3 ms of pure Python, and a 4 ms sleep. Medians over 3 rounds:

    python tools/classify_after.py [CLIP]     # default ../shared/data/video/carving_ice.mp4; ~30 s
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from edgeapp.bench import bench_frames
from edgeapp.camera.sources import open_source
from edgeapp.classify.config import ClassifyConfig
from edgeapp.classify.stage import VideoClassifier, open_classifier
from edgeapp.classify.temporal import SmoothingConfig
from edgeapp.pose import MoveNet
from edgeapp.pose.smoothing import PoseSmoother
from edgeapp.registry import Registry
from edgeapp.runtime.backend import BackendRequest
from edgeapp.runtime.model import Model

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    clip = sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared" / "data" / "video" / "carving_ice.mp4")
    registry = Registry()
    movenet = MoveNet(Model.open(registry.resolve(None, "pose"), BackendRequest(kind="cpu", threads=4)))
    video = VideoClassifier(open_classifier(ClassifyConfig(), registry), SmoothingConfig())
    smoother = PoseSmoother()
    frames = [f for f, _, _ in bench_frames(open_source(clip), 60, 0)]
    poses = [(smoother.pose(movenet.estimate(f.image), f.time), f) for f in frames]
    poses = [(p, f) for p, f in poses if p is not None]
    big = np.ones(8_000_000, np.uint8)
    copy = np.empty_like(big)
    before = {
        "nothing (warm)": lambda f: None,
        "MoveNet on the frame": lambda f: movenet.estimate(f.image),
        "a copy of 8 MB": lambda f: np.copyto(copy, big),
        "3 ms of pure Python": lambda f: sum(range(100_000)),
        "a 4 ms sleep": lambda f: time.sleep(0.004),
    }
    for name, work in before.items():
        times = []
        for _ in range(3):
            for pose, frame in poses:
                work(frame)
                start = time.perf_counter()
                video.classify(pose, frame.time)
                times.append(time.perf_counter() - start)
        print(f"after {name:22s} {1e6 * statistics.median(times):7.1f} us")


if __name__ == "__main__":
    main()
