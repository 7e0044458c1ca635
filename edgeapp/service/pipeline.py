"""The per-frame pipeline: frames in, results and events out.

Three threads carry a frame: capture (decoding, and input preparation that needs no
earlier result); the frame loop, which owns the image models and does only what the
next invoke needs (:meth:`Pipeline.infer`); and a finishing worker that does the rest
(:meth:`Pipeline.finish`: classification, holds, tracks, the rig, events) while the
image models already work on the next frame. With the detector, the people whose poses a
frame's invokes estimate are planned by the worker after tracking the frame before; the frame
loop waits for that plan only, not the rest of the worker's part. Events go to a sink whose ``publish`` never blocks (the MQTT
publisher queues them). A ``Pipeline`` owns no global state: two can be built, run
and closed in one process.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

import numpy as np

from edgeapp.camera import Frame
from edgeapp.camera.capture import Capture, EndOfStream
from edgeapp.camera.reconnect import valid_image
from edgeapp.camera.sources import open_service_source
from edgeapp.classify.stage import ClassifyResult, ClassifyStage, classifier_on, open_classifier_model
from edgeapp.config import AppConfig
from edgeapp.detect.detection import Detection
from edgeapp.detect.detector import Detector, load_labels
from edgeapp.classify.hold import HoldTimer
from edgeapp.detect.tracker import ObjectTracker, TrackerUpdate
from edgeapp.events import DetectionEvent, ErrorEvent, PoseClassEvent, PoseEvent, StatsEvent, cpu_temperature
from edgeapp.events.base import Event
from edgeapp.exercise.stage import RepsResult
from edgeapp.exercise.task import RepsTask
from edgeapp.latency import LatencyWindow
from edgeapp.pantilt.controller import Command
from edgeapp.pantilt.stage import PanTiltStage
from edgeapp.pose import MoveNet, Pose
from edgeapp.pose.people import People, PersonPose, estimate_crops
from edgeapp.pose.smoothing import PoseSmoother
from edgeapp.registry import Registry
from edgeapp.runtime.failover import FailoverModel
from edgeapp.service.model_check import blamed_on, labels_key, models_registry
from edgeapp.service.worker import Worker

log = logging.getLogger(__name__)


class EventSink(Protocol):
    def publish(self, event: Event) -> bool:
        """Hand an event over without blocking; False when it had to be dropped."""


@dataclass
class Controls:
    """Runtime switches, set by MQTT commands from another thread, read by the finishing worker."""

    classification: bool = True
    tracking: bool = True
    snapshot_requested: bool = False


@dataclass
class Inference:
    """What the models made of one frame: the frame loop's part of the work."""

    frame: Frame
    pose: Pose | None = None
    people: list[PersonPose] | None = None  # with detection: the poses of the people planned for this frame
    detect_outputs: list[np.ndarray] | None = None  # raw, for Detector.decode
    invoke_s: dict[str, list[float]] = field(default_factory=dict)  # model -> each invoke's time
    people_s: float = 0.0  # the people's whole pose path (crops, invokes, mapping back)
    began: float = field(default_factory=time.perf_counter)  # when the frame loop took the frame up


@dataclass
class FrameResult:
    frame: Frame
    pose: Pose | None = None  # the one person's, or the first of the people
    classification: ClassifyResult | None = None  # of ``pose``
    people: list[PersonPose] = field(default_factory=list)  # with detection: each pose with its track id
    classifications: dict[int, ClassifyResult] = field(default_factory=dict)  # track id -> its classification
    detections: list[Detection] | None = None  # each with its track id
    target: int | None = None  # the track id the rig follows (an id, not the live Track the worker moves on)
    command: Command | None = None
    reps: RepsResult | None = None
    invoke_s: dict[str, list[float]] = field(default_factory=dict)  # model -> this frame's invoke times
    began: float = 0.0  # perf_counter when the frame loop took the frame up (the next frame's less this: its turn)


@dataclass
class PipelineStats:
    frames: int = 0
    started: float = field(default_factory=time.monotonic)
    invoke: dict[str, LatencyWindow] = field(default_factory=dict)
    invokes: dict[str, int] = field(default_factory=dict)  # model -> invokes so far (people: several a frame)
    person_path: LatencyWindow = field(default_factory=lambda: LatencyWindow(300))  # the people's path, per person
    person_extra: LatencyWindow = field(default_factory=lambda: LatencyWindow(300))  # the same, less its invoke
    frame_times: LatencyWindow = field(default_factory=lambda: LatencyWindow(120))
    last_frame_at: float | None = None

    def fps(self) -> float | None:
        window = self.frame_times.summary()
        return round(1000.0 / window.mean_ms, 2) if window.n and window.mean_ms > 0 else None


# Draws a finished frame for an MQTT snapshot (JPEG bytes); the service hands in the preview's.
SnapshotRenderer = Callable[["Pipeline", "FrameResult"], bytes]


class Pipeline:
    def __init__(self, config: AppConfig, sink: EventSink, registry: Registry | None = None, source=None,
                 render_snapshot: SnapshotRenderer | None = None):
        self.config = config
        self.sink = sink
        self.render_snapshot = render_snapshot
        self.controls = Controls()
        self.stats = PipelineStats()
        self.latest: FrameResult | None = None
        self.running = False  # True while run() is in its frame loop
        self.progress_at = time.monotonic()  # the frame loop's heartbeat, for the stall watchdog
        # the source first: a file that is not there is a config error, found before the models load
        self.source = source if source is not None else open_service_source(config.source)
        # Each model opens once, refused or not: a file or labels the config names that cannot be used fail
        # here as the ConfigError naming the key (model_check), never found by opening everything again.
        registry = registry or models_registry(config)
        self.models: dict[str, FailoverModel] = {}
        self.movenet: MoveNet | None = None
        if config.tasks.pose:
            model = self._open_model("pose", registry)
            with blamed_on("pose.model"):
                self.movenet = MoveNet(model, smart_crop=config.pose.smart_crop)  # type: ignore[arg-type]
            self.models["pose"] = model
        # One keypoint filter per person, stepped once a frame on the finishing worker; everything after the pose
        # reads the filtered pose, the smart crop the raw one. Still images are unrelated: never filtered.
        # Nor are their class probabilities averaged.
        smoothing, classify = config.pose.smoothing, config.classify
        self.still = self.source.still  # read once: a wrapped source answers it through __getattr__
        if self.still:
            smoothing = replace(smoothing, enabled=False)
            classify = replace(classify, smoothing=replace(classify.smoothing, enabled=False))
        self.smoother = PoseSmoother(smoothing)
        self.classify_stage: ClassifyStage | None = None
        if config.tasks.classify:
            with blamed_on("classify.model"):
                model = open_classifier_model(classify, registry)
            with blamed_on(labels_key(config, "classify")):
                classifier = classifier_on(model, classify, registry)
            self.classify_stage = ClassifyStage.on(classifier, classify)
            self.models["classify"] = model
        self.detector: Detector | None = None
        self.tracker: ObjectTracker | None = None
        if config.tasks.detect:
            d = config.detect
            model = self._open_model("detect", registry)
            with blamed_on(labels_key(config, "detect")):
                self.detector = Detector(model, load_labels(d, registry, d.model), d)  # type: ignore[arg-type]
            self.models["detect"] = model
            self.tracker = self.detector.new_tracker()
        # With the detector, poses are per person (a crop each); without it, the single-pose path.
        self.people = People(config.pose.people, config.pose.select, config.pose.min_person_score) \
            if self.movenet is not None and self.detector is not None else None
        self._person_classes: dict[int, ClassifyStage] = {}
        # The people's crops for a frame come from the frame before: the frame loop waits for that plan
        # (tracking, a millisecond or two, not the rest of the finishing work), or the crops lag two frames.
        self._planned = threading.Condition()
        self._planned_index: int | None = None  # the last frame whose people are planned
        self._asked_index: int | None = None  # the last frame handed to the finishing worker
        self.pantilt = PanTiltStage(config.pantilt, self._emit) if config.tasks.track else None
        self.reps = RepsTask.from_config(config, self._emit) if config.tasks.reps else None
        for name in self.models:
            self.stats.invoke[name] = LatencyWindow(300)
        self.capture: Capture | None = None
        self._camera_mark = ("starting", 0)  # a fresh CameraStatus.mark()
        self._closed = False

    def _open_model(self, task: str, registry: Registry) -> FailoverModel:
        runtime = self.config.runtime
        request = runtime.request()
        with blamed_on(f"{task}.model"):
            files = registry.resolve(getattr(self.config, task).model, task)
        # On the Edge TPU a model that will not load may be the device's fault, not the file's: the loader's own
        # error then. Elsewhere (the CPU, or auto after falling back to it) the file is at fault.
        with nullcontext() if request.kind == "edgetpu" else blamed_on(f"{task}.model"):
            return FailoverModel(files, request, runtime.tpu_retry_s)

    # -- reporting ------------------------------------------------------------------
    def backend(self) -> tuple[str, bool]:
        """The backend of the main model and whether any model runs on a fallback."""
        if not self.models:
            return "none", False
        main = next(iter(self.models.values()))
        return main.info.backend, any(m.info.fallback for m in self.models.values())

    def stats_event(self) -> StatsEvent:
        backend, fallback = self.backend()
        return StatsEvent(
            uptime_s=round(time.monotonic() - self.stats.started, 1),
            fps=self.stats.fps(),
            models={name: w.summary() for name, w in self.stats.invoke.items() if len(w)},
            backend=backend,
            fallback=fallback,
            dropped_frames=self.dropped_frames,
            cpu_temp_c=cpu_temperature(),
            camera=self.camera(),
        )

    def camera(self) -> dict:
        """The source's state as stats, /healthz and /metrics report it (files and images: up while read)."""
        status = getattr(self.source, "status", None)
        return status.as_dict() if status is not None else {"state": "up", "outages": 0, "reconnects": 0,
                                                            "bad_frames": 0, "last_error": ""}

    def _watch_camera(self) -> bool:
        """On the frame loop (every turn, at least every 0.5 s): an outage and a return go out as events at once,
        not at the next periodic stats. True when the camera's state changed."""
        status = getattr(self.source, "status", None)
        if status is None or status.mark() == self._camera_mark:
            return False
        before, self._camera_mark = self._camera_mark, status.mark()
        if status.reports > before[1]:  # an outage, or a new reason of one still open
            self._emit(ErrorEvent(source="camera", message=f"camera {self.source.name} is down: {status.last_error}",
                                  detail=status.as_dict()))
        elif before[0] != "down":  # starting -> up: nothing to report
            return False
        self._emit(self.stats_event())
        return True

    def status_line(self) -> str:
        backend, fallback = self.backend()
        camera = self.camera()["state"]
        fps = self.stats.fps()
        return f"{fps or 0:.1f} fps, backend {backend}{' (fallback)' if fallback else ''}, camera {camera}"

    # -- the frame loop ---------------------------------------------------------------
    def infer(self, frame: Frame) -> Inference:
        """The image models' invokes, and only what the next invoke needs (the pose, for the next crop).
        The detector goes first: it needs nothing from the last frame, so the finishing worker tracks the
        last frame and plans this one's crops meanwhile, instead of the loop waiting idle for that plan."""
        out = Inference(frame)
        if self.detector is not None:
            out.detect_outputs = self.detector.run(frame.image, frame.prepared.get("detect"))
            out.invoke_s["detect"] = [self.detector.model.last_invoke_s]
        # Still images stand alone: no crop planned on the photo before (none waited for); each gets the
        # single-pose path's.
        if self.people is not None and not self.still:
            self._wait_for_plan()
        if self.people is not None and self.people.crops and not self.still:
            began = time.perf_counter()  # the crops: planned by the finishing worker from the last tracked frame
            out.people = estimate_crops(self.movenet, frame.image, self.people.crops)
            out.people_s = time.perf_counter() - began
            out.invoke_s["pose"] = list(self.movenet.last_invoke_s)
        elif self.movenet is not None:  # no detector, or it sees nobody to follow: the single-pose path
            # an image of a folder stands alone: its crop is found afresh, as `infer pose` finds it
            pose = self.movenet.estimate_still(frame.image) if self.still else self.movenet.estimate(frame.image)
            out.invoke_s["pose"] = list(self.movenet.last_invoke_s)  # a still's passes, a first frame's two
            out.pose = pose if pose.score >= self.config.pose.min_person_score else None
        return out

    def finish(self, inference: Inference) -> FrameResult:
        """Everything after the image models: the classifier (51 numbers in, bookkeeping-sized),
        holds, tracks, the rig and the frame's events, in order; then repetitions, on the frame's poses."""
        result = self._finish(inference)
        if self.reps is not None:
            result.reps = self.reps.update_frame(result)
        return result

    def _wait_for_plan(self, timeout_s: float = 1.0) -> None:
        """On the frame loop: until the previous frame's people are planned (bounded: a finishing
        worker that failed must not stall the loop; its error surfaces when the run ends)."""
        asked = self._asked_index
        if asked is None:
            return
        with self._planned:
            self._planned.wait_for(lambda: self._planned_index is not None and self._planned_index >= asked,
                                   timeout_s)

    def _done_planning(self, index: int) -> None:
        with self._planned:
            self._planned_index = index
            self._planned.notify_all()

    def _finish(self, inference: Inference) -> FrameResult:
        frame = inference.frame
        result = FrameResult(frame, pose=inference.pose, invoke_s=inference.invoke_s, began=inference.began)
        for name, times in inference.invoke_s.items():
            for seconds in times:
                self.stats.invoke[name].add(seconds)
            self.stats.invokes[name] = self.stats.invokes.get(name, 0) + len(times)
        if inference.people:  # one invoke a person; what is not an invoke is shared evenly
            each = inference.people_s / len(inference.people)
            for invoke_s in inference.invoke_s["pose"]:
                self.stats.person_path.add(each)
                self.stats.person_extra.add(each - invoke_s)
        if inference.people is not None:
            self._people(result, inference)
            return result
        if inference.detect_outputs is not None:  # first: the frame loop waits for the plan it makes
            self._track_people(result, inference)
        result.pose = self.smoother.pose(result.pose, frame.time)
        if self.movenet is not None:
            # The publisher thins pose events to mqtt.pose_rate; presence changes always pass.
            self._emit(PoseEvent(pose=result.pose, frame=frame.index))
        if self.classify_stage is not None and self.controls.classification:
            result.classification = self.classify_stage.update(result.pose, frame.time)
            if result.classification.answer.top:  # the model ran ("ok" or "other")
                self.stats.invoke["classify"].add(self.classify_stage.classifier.model.last_invoke_s)
            score = result.classification.answer.score
            for hold in result.classification.events:
                self._emit(PoseClassEvent.from_hold(hold, score=score))
        return result

    def _track_people(self, result: FrameResult, inference: Inference) -> list[int]:
        """Track; with people to follow, plan their crops for the next frame. Returns who stopped
        being followed."""
        w, h = result.frame.size
        update = self._track(result, self.detector.decode(inference.detect_outputs, w, h, self.detector.tracking_floor))
        if self.people is None:
            return []
        alive = {t.id: t.box for t in update.tracks if t.confirmed}
        gone = self.people.plan(update.detections, alive, w, h, result.target)
        self._done_planning(result.frame.index)
        return gone

    def _people(self, result: FrameResult, inference: Inference) -> None:
        """Per person: track, then poses, classification and holds; plan the next frame's crops."""
        frame = result.frame
        people = self.people.observe(inference.people)  # the raw poses: the next crops follow them
        gone = self._track_people(result, inference)  # first: the frame loop waits for its plan
        result.people = self.smoother.people(people, frame.time)
        result.pose = result.people[0].pose if result.people else None
        for person in result.people:
            self._emit(PoseEvent(pose=person.pose, frame=frame.index, person_id=person.id))
        for person_id in gone:  # no longer followed (left, or the choice moved on): said once
            self._emit(PoseEvent(pose=None, frame=frame.index, person_id=person_id))
        if self.classify_stage is not None and self.controls.classification:
            self._classify_people(result, gone)

    def _classify_people(self, result: FrameResult, gone: list[int]) -> None:
        t = result.frame.time
        for person_id in gone:
            stage = self._person_classes.pop(person_id, None)
            for hold in stage.finish(t) if stage is not None else ():
                self._emit(PoseClassEvent.from_hold(hold, person=person_id))
        poses = {p.id: p.pose for p in result.people}
        for person_id in self.people.chosen:
            stage = self._person_classes.get(person_id)
            if stage is None:
                main = self.classify_stage
                stage = self._person_classes[person_id] = ClassifyStage(main.classifier, HoldTimer(main.timer.config),
                                                                        main.smoothing)
            c = stage.update(poses.get(person_id), t)
            result.classifications[person_id] = c
            if c.answer.top:  # the model ran ("ok" or "other")
                self.stats.invoke["classify"].add(self.classify_stage.classifier.model.last_invoke_s)
            for hold in c.events:
                self._emit(PoseClassEvent.from_hold(hold, score=c.answer.score, person=person_id))
        if result.people:
            result.classification = result.classifications.get(result.people[0].id)

    def _prepare(self, frame: Frame) -> None:
        """On the capture thread: what does not depend on earlier frames' results."""
        if self.detector is not None and valid_image(frame.image):
            frame.prepared["detect"] = self.detector.prepare(frame.image)

    def _track(self, result: FrameResult, detections: list[Detection]) -> TrackerUpdate:
        frame = result.frame
        shift = self.pantilt.view_shift if self.pantilt else (0.0, 0.0)
        update = self.tracker.update(detections, frame.index, frame.time, shift)
        result.detections = update.detections
        result.target = update.target.id if update.target is not None else None
        for event in update.events:
            self._emit(DetectionEvent.from_track(event))
        if self.pantilt is not None:
            result.command = self.pantilt.follow(update, frame.time, self.controls.tracking)
        return update

    def _emit(self, event: Event) -> None:
        self.sink.publish(event)

    def run(self, stop: threading.Event, max_frames: int | None = None,
            on_frame: Callable[[FrameResult], None] | None = None,
            heartbeat: Callable[[], None] | None = None, on_camera: Callable[[], None] | None = None) -> int:
        """The frame loop, until ``stop``, the end of a file, or ``max_frames``. Returns frames processed.
        ``on_camera`` is called on the frame loop when the camera goes down or comes back. A source that failed
        for good (a damaged file) raises its SourceError after the error event went out."""
        self.capture = Capture(self.source, prepare=self._prepare).start()
        finisher: Worker[Inference] = Worker(lambda inference: self._done(self.finish(inference), on_frame),
                                             name="finish")
        inferred = self.stats.frames
        self._asked_index = None  # a new run's frames count from its own start
        self.running = True
        try:
            while not stop.is_set() and (max_frames is None or inferred < max_frames):
                self.progress_at = time.monotonic()
                if heartbeat:
                    heartbeat()
                if self._watch_camera() and on_camera:
                    on_camera()
                try:
                    frame = self.capture.get(timeout=0.5)
                except EndOfStream:
                    if self.capture.error is not None:
                        self._emit(ErrorEvent(source="camera", message=str(self.capture.error)))
                    break
                if frame is None:
                    continue
                if not valid_image(frame.image):
                    self._emit(ErrorEvent(source="camera", message=f"frame {frame.index} is not a BGR image"))
                    continue
                inference = self.infer(frame)
                self._asked_index = frame.index
                finisher.put(inference)
                inferred += 1
        finally:
            self.running = False
            self.capture.stop()
            error = finisher.close()
        if error is not None:
            raise error
        if self.capture.error is not None:
            raise self.capture.error
        return self.stats.frames

    def _done(self, result: FrameResult, on_frame: Callable[[FrameResult], None] | None) -> None:
        """On the finishing worker: a frame is complete."""
        if self.controls.snapshot_requested:
            self.controls.snapshot_requested = False
            self._snapshot(result)
        now = time.monotonic()
        stats = self.stats
        if stats.last_frame_at is not None:
            stats.frame_times.add(now - stats.last_frame_at)
        stats.frames += 1
        stats.last_frame_at = now
        self.latest = result
        if on_frame:
            on_frame(result)

    def _snapshot(self, result: FrameResult) -> None:
        """Draw and encode on a thread of its own: a snapshot must not cost the frame loop a frame."""
        publish = getattr(self.sink, "publish_snapshot", None)
        render = self.render_snapshot
        if publish is None or render is None:
            return

        def encode() -> None:
            try:
                jpeg = render(self, result)
            except Exception as exc:  # drawing must never take the service down; say so instead
                self._emit(ErrorEvent(source="snapshot", message=f"snapshot of frame {result.frame.index} failed: {exc}"))
                return
            publish(jpeg)

        threading.Thread(target=encode, name="snapshot", daemon=True).start()

    @property
    def dropped_frames(self) -> int:
        return self.capture.dropped if self.capture else 0

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End holds and tracks still open (their 'ended' events go out), home the rig, stop the capture.
        Only the first call acts."""
        if self._closed:
            return
        self._closed = True
        if self.classify_stage is not None and self.latest is not None:
            for hold in self.classify_stage.finish(self.latest.frame.time):
                self._emit(PoseClassEvent.from_hold(hold))
            for person_id, stage in self._person_classes.items():
                for hold in stage.finish(self.latest.frame.time):
                    self._emit(PoseClassEvent.from_hold(hold, person=person_id))
            self._person_classes.clear()
        if self.reps is not None and self.latest is not None:
            self.reps.close(self.latest.frame.time)
        if self.tracker is not None:
            for event in self.tracker.reset():
                self._emit(DetectionEvent.from_track(event))
        if self.pantilt is not None:
            self.pantilt.close()
        if self.capture is not None:
            self.capture.stop()
