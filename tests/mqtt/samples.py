"""One event of every kind and sub-type, built the way the producers build them."""

from __future__ import annotations

import numpy as np

from edgeapp.classify.hold import PoseEnded
from edgeapp.events import DetectionEvent, ErrorEvent, PoseClassEvent, PoseEvent, RepEvent, StatsEvent, TrackingEvent
from edgeapp.events.pose import pose_json
from edgeapp.exercise.counter import Rep, SetEnded
from edgeapp.latency import summarize
from edgeapp.pose.keypoint import Pose


def pose_dict(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return pose_json(Pose(xy=rng.uniform(0.1, 0.9, (17, 2)), scores=rng.uniform(0, 1, 17), frame_size=(640, 480)))


def person(i: int = 0) -> dict:
    return {"id": f"1712345678.5-ab{i:04d}", "label": "person", "score": 0.8, "box": [0.1, 0.2, 0.5, 0.9],
            "start_time": 1712345678.5, "end_time": None}


def one_of_each() -> list:
    hold = PoseEnded(label="tree", time=12.5, started_at=2.0, ended_at=12.4, held_s=10.4, reason="lost")
    return [
        PoseEvent(pose=pose_dict(), frame=17),
        PoseEvent(pose=None, frame=18),
        PoseClassEvent(type="started", label="tree", held_s=0.5, started_at=2.0, frame_time=2.5, score=0.91),
        PoseClassEvent(type="held", label="tree", held_s=5.0, started_at=2.0, frame_time=7.0, milestone_s=5.0),
        PoseClassEvent.from_hold(hold, score=0.88),
        DetectionEvent(type="new", after=person()),
        DetectionEvent(type="update", before=person(), after={**person(), "score": 0.9}),
        DetectionEvent(type="end", before=person(), after={**person(), "end_time": 1712345690.0}),
        TrackingEvent(type="acquired", pan=0.0, tilt=0.0, target="person"),
        TrackingEvent(type="angles", pan=12.5, tilt=-4.0, target="person"),
        TrackingEvent(type="lost", pan=30.0, tilt=-2.0, target="person"),
        TrackingEvent(type="returned_home", pan=0.0, tilt=0.0),
        StatsEvent(uptime_s=3600.0, fps=14.8, models={"movenet": summarize([0.012, 0.013, 0.02])},
                   backend="edgetpu", fallback=False, dropped_frames=3, cpu_temp_c=61.2),
        ErrorEvent(source="camera", message="camera /dev/video0 stopped delivering frames", detail={"retry_s": 5}),
        RepEvent.from_counter(Rep(2, 2, 5.807, 7.762, 1.955, 93.8, 85.4, 0.99, 0.96), "squat", "deg", 7.8),
        RepEvent.from_counter(SetEnded(2, 2, 0.893, 7.762, 17.8, "pause"), "squat", "deg", 17.8),
    ]
