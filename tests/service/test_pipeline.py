"""The pipeline on real models and a real clip; Edge TPU failover behind the runtime's opener."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from support.shared import DATA, IMAGES, MODELS, MOVENET, VIDEO
from edgeapp.config import AppConfig
from edgeapp.events import DetectionEvent, PoseClassEvent, PoseEvent
from edgeapp.runtime.backend import BackendInfo, BackendRequest, ModelFiles, open_interpreter
from edgeapp.runtime.failover import FailoverModel
from edgeapp.service.pipeline import Pipeline
from edgeapp.settings import read

CLIP = VIDEO / "opencv_vtest_30s_h264.mp4"


class ListSink:
    """The pipeline's own sink interface, collecting what it hands over."""

    def __init__(self):
        self.events = []

    def publish(self, event) -> bool:
        self.events.append(event)
        return True


def config(**sections) -> AppConfig:
    base = {"source": {"uri": str(CLIP)}, "runtime": {"models_dir": str(MODELS), "threads": 2}}
    base.update(sections)
    return read(AppConfig, base)


def test_pipeline_runs_pose_and_classification_and_can_be_built_twice():
    for _ in range(2):
        sink = ListSink()
        pipeline = Pipeline(config(tasks={"pose": True, "classify": True}), sink)
        assert pipeline.run(threading.Event(), max_frames=40) == 40
        pipeline.close()
        poses = [e for e in sink.events if isinstance(e, PoseEvent)]
        assert len(poses) == 40 and [e.frame for e in poses] == list(range(40))
        assert any(e.person for e in poses)
        assert all(len(e.body()["keypoints"]) == 17 for e in poses if e.person)
        stats = pipeline.stats_event()
        # the first frame's second pass (in the crop its whole-frame pass gave) is an invoke too
        assert stats.models["pose"]["n"] == pipeline.stats.invokes["pose"] == 41 and stats.backend == "cpu" and stats.fallback is False  # no Coral here
        assert stats.fps and stats.fps > 0
        assert pipeline.latest is not None and pipeline.latest.frame.index == 39


def test_classification_can_be_switched_off_at_run_time():
    sink = ListSink()
    pipeline = Pipeline(config(tasks={"pose": True, "classify": True}), sink)
    pipeline.controls.classification = False
    pipeline.run(threading.Event(), max_frames=10)
    assert pipeline.latest.classification is None
    assert not [e for e in sink.events if isinstance(e, PoseClassEvent)]


def test_a_file_source_ends_the_run_without_dropping():
    sink = ListSink()
    pipeline = Pipeline(config(source={"uri": str(VIDEO / "carving_ice.mp4")}), sink)
    assert pipeline.run(threading.Event()) == 200
    assert pipeline.dropped_frames == 0


@pytest.mark.parametrize("detect", [False, True], ids=["pose", "pose+detect"])
def test_an_image_folder_is_read_as_stills_each_with_its_own_crop(tmp_path, detect):
    """The service on a folder of photos gives each the pose `infer pose` gives it: no crop carried from the
    photo before (same-size photos of one person in different poses: one's crop cuts the next), and with the
    detector no person's crop planned on the photo before; nor are class probabilities averaged across photos."""
    import cv2

    from edgeapp.pose import MoveNet

    # one person's 300 x 300 photos: the first's crop cuts the second, and by the last the tracker has confirmed
    # the person and planned a crop
    photos = [DATA / "yoga" / "yoga_poses_train" / pose / f"guy2_{pose}{n}.jpg" for pose, n in (
        ("dog", "060"), ("chair", "147"), ("warrior", "044"), ("warrior", "048"), ("chair", "071"), ("tree", "086"),
        ("dog", "025"), ("cobra", "027"))]
    for i, photo in enumerate(photos):
        (tmp_path / f"{i}.jpg").symlink_to(photo)  # in this order
    images = [cv2.imread(str(p)) for p in photos]
    assert len({image.shape for image in images}) == 1  # a size change would reset the crop anyway
    sink, answers = ListSink(), []
    # a probability average long enough to span photos (1 s apart in frame time), were it applied to stills
    cfg = config(source={"uri": str(tmp_path)}, tasks={"pose": True, "detect": detect, "classify": True},
                 classify={"smoothing": {"max_gap_s": 5.0, "probability_tau_s": 5.0}})
    with Pipeline(cfg, sink) as pipeline:
        assert pipeline.run(threading.Event(), on_frame=lambda r: answers.append(r.classification.answer)) \
            == len(photos)
        classifier = pipeline.classify_stage.classifier
        assert pipeline.stats.invokes["pose"] == 3 * len(photos)  # the tutorial's three passes, each counted
    poses = [e.pose for e in sink.events if isinstance(e, PoseEvent)]
    assert len(poses) == len(photos)
    movenet = MoveNet(FailoverModel(ModelFiles.from_path(MOVENET), BackendRequest(kind="cpu", threads=2)))
    for image, pose, answer in zip(images, poses, answers, strict=True):
        still = movenet.estimate_still(image)
        assert np.abs(pose.xy - still.xy).max() < 1e-6
        alone = classifier.classify(still)  # each photo classified on its own, as `infer classify` does
        assert (answer.label, answer.status) == (alone.label, alone.status)
        assert answer.score == pytest.approx(alone.score, abs=1e-6)
    movenet.reset()
    carried = [movenet.estimate(image) for image in images]  # each photo with the crop the one before left
    assert max(np.abs(p.xy - c.xy).max() for p, c in zip(poses, carried)) > 0.02  # a carried crop shows


def test_a_camera_mounted_upside_down_is_turned_upright_before_anything_reads_it(tmp_path):
    """source.rotate = 180 on photos turned upside down gives the poses of the upright photos (the turn is exact)."""
    import cv2

    upright, turned = tmp_path / "upright", tmp_path / "turned"
    for folder in (upright, turned):
        folder.mkdir()
    for name in ("tfex_pose_image1.png", "squat.bmp"):
        image = cv2.imread(str(IMAGES / name))
        cv2.imwrite(str(upright / f"{name}.png"), image)
        cv2.imwrite(str(turned / f"{name}.png"), cv2.rotate(image, cv2.ROTATE_180))

    def poses(folder, rotate):
        sink = ListSink()
        with Pipeline(config(source={"uri": str(folder), "rotate": rotate}, tasks={"pose": True}), sink) as pipeline:
            assert pipeline.run(threading.Event()) == 2
        return [e.pose for e in sink.events if isinstance(e, PoseEvent)]

    want = poses(upright, 0)
    for got, expected in zip(poses(turned, 180), want, strict=True):
        assert np.array_equal(got.xy, expected.xy) and got.frame_size == expected.frame_size


class FlakyEdgeTpu:
    """Stands in for the Edge TPU hardware behind the runtime's opener: a real interpreter of the
    CPU model, reported as the Edge TPU, whose invoke fails once ``vanish`` is set."""

    def __init__(self):
        self.vanish = threading.Event()
        self.present = True
        self.opened = 0

    def __call__(self, files: ModelFiles, request: BackendRequest):
        if request.kind == "cpu":
            return open_interpreter(files, request)
        if not self.present:
            from edgeapp.errors import BackendError

            raise BackendError("no Edge TPU found")
        interpreter, info = open_interpreter(dataclasses.replace(files, named="cpu"), dataclasses.replace(request, kind="cpu"))
        self.opened += 1
        tpu = self

        class Tpu:
            def __getattr__(self, name):
                return getattr(interpreter, name)

            def invoke(self):
                if tpu.vanish.is_set():
                    raise RuntimeError("Failed to invoke: USB transfer error (device gone)")
                return interpreter.invoke()

        return Tpu(), BackendInfo(request.kind, "edgetpu", files.edgetpu, device=request.device)


def test_failover_to_cpu_and_back_when_the_edge_tpu_returns():
    now = [0.0]
    tpu = FlakyEdgeTpu()
    files = ModelFiles(cpu=MOVENET, edgetpu=MOVENET.with_name(MOVENET.stem + "_edgetpu.tflite"))
    model = FailoverModel(files, BackendRequest("auto", threads=1), retry_s=30, opener=tpu, clock=lambda: now[0])
    from edgeapp.pose import MoveNet
    import cv2
    from support.shared import IMAGES

    image = cv2.imread(str(IMAGES / "tfex_pose_image1.png"))
    movenet = MoveNet(model)
    before = movenet.estimate_still(image)
    assert model.info.backend == "edgetpu" and not model.info.fallback

    tpu.vanish.set()
    tpu.present = False
    during = movenet.estimate_still(image)  # the failing invoke is repeated on the CPU: no frame lost
    assert model.info.backend == "cpu" and model.info.fallback
    assert "USB transfer error" in model.info.reason
    assert abs(during.xy - before.xy).max() < 1e-6  # same input reached the CPU twin

    now[0] += 31  # retry is due, but the TPU is still gone: stay on the CPU
    movenet.estimate(image)
    assert model.info.backend == "cpu"

    tpu.vanish.clear()
    tpu.present = True
    now[0] += 31
    movenet.estimate(image)
    assert model.info.backend == "edgetpu" and not model.info.fallback
    assert model.switches == 2


def test_detection_and_tracking_publish_frigate_style_events_and_home_the_rig():
    sink = ListSink()
    cfg = config(tasks={"pose": False, "detect": True, "track": True}, pantilt={"rig": "sim"})
    pipeline = Pipeline(cfg, sink)
    pipeline.run(threading.Event(), max_frames=40)
    dets = pipeline.latest.detections
    assert dets and all(d.label and 0 <= d.box.xmin < d.box.xmax <= 1 for d in dets)
    assert any(d.label == "person" and d.id for d in dets)
    pipeline.close()
    from edgeapp.events import DetectionEvent

    kinds = {(type(e).__name__, e.type) for e in sink.events if hasattr(e, "type")}
    assert ("DetectionEvent", "new") in kinds and ("DetectionEvent", "end") in kinds
    assert ("TrackingEvent", "acquired") in kinds
    new_ids = {e.after["id"] for e in sink.events if isinstance(e, DetectionEvent) and e.type == "new"}
    end_ids = {e.after["id"] for e in sink.events if isinstance(e, DetectionEvent) and e.type == "end"}
    assert end_ids <= new_ids and end_ids  # every track that ended was announced; close() ends the rest
    assert pipeline.pantilt.rig.position == (cfg.pantilt.pan.home, cfg.pantilt.tilt.home)
    assert "detect" in pipeline.stats_event().models


def test_tracking_switched_off_returns_home():
    sink = ListSink()
    cfg = config(tasks={"pose": False, "detect": True, "track": True}, pantilt={"rig": "sim"})
    pipeline = Pipeline(cfg, sink)

    def command_midway(result):  # as an MQTT tracking/set OFF would, from another thread
        if result.frame.index == 15:
            pipeline.controls.tracking = False

    pipeline.run(threading.Event(), max_frames=25, on_frame=command_midway)
    from edgeapp.events import TrackingEvent

    homes = [e for e in sink.events if isinstance(e, TrackingEvent) and e.type == "returned_home"]
    assert homes and pipeline.latest.command is None
    pipeline.close()


def test_track_without_a_rig_is_a_config_error():
    from edgeapp.errors import ConfigError

    with pytest.raises(ConfigError, match="pantilt.rig"):
        config(tasks={"detect": True, "track": True})


def test_an_error_after_the_invokes_stops_the_run_and_is_raised_by_it():
    class FailingSink(ListSink):
        def publish(self, event) -> bool:
            if len(self.events) == 5:
                raise RuntimeError("sink broke on the 6th event")
            return super().publish(event)

    sink = FailingSink()
    pipeline = Pipeline(config(tasks={"pose": True}), sink)
    with pytest.raises(RuntimeError, match="6th event"):
        pipeline.run(threading.Event(), max_frames=40)
    assert len(sink.events) == 5 and pipeline.stats.frames == 5
    assert not pipeline.running and not pipeline.capture._thread.is_alive()
    pipeline.close()


def test_a_hang_after_the_invokes_stops_the_watchdog_pings_instead_of_queueing():
    """A rig write that never returns (a wedged I2C bus) must starve the watchdog, not hide behind a queue."""
    pipeline = Pipeline(config(tasks={"pose": False, "detect": True, "track": True}, pantilt={"rig": "sim"}), ListSink())
    rig, release, calls = pipeline.pantilt.rig, threading.Event(), []
    command = rig.command

    def wedged(pan, tilt):
        calls.append(1)
        if len(calls) >= 5:
            release.wait()
        return command(pan, tilt)

    rig.command = wedged
    beats: list[float] = []
    stop = threading.Event()
    loop = threading.Thread(target=pipeline.run, args=(stop,), daemon=True,
                            kwargs={"heartbeat": lambda: beats.append(time.monotonic())})
    loop.start()
    try:
        deadline = time.monotonic() + 30
        while len(calls) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Within 3 s the frame loop (at most two frames ahead) stops pinging for a whole second; a loop
        # that queued instead would go on pinging for the rest of the clip.
        pinged, quiet_since, deadline = len(beats), time.monotonic(), time.monotonic() + 3.0
        while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline:
            time.sleep(0.05)
            if len(beats) != pinged:
                pinged, quiet_since = len(beats), time.monotonic()
        assert time.monotonic() - quiet_since >= 1.0 and time.monotonic() - pipeline.progress_at >= 1.0
        release.set()
        deadline = time.monotonic() + 30
        while len(beats) == pinged and time.monotonic() < deadline:  # unwedged: the pings resume
            time.sleep(0.05)
    finally:
        release.set()
        stop.set()
        loop.join(30)
    assert not loop.is_alive() and len(beats) > pinged
    pipeline.close()


def test_in_a_with_block_the_pipeline_closes_once_ending_tracks_and_homing_the_rig():
    sink = ListSink()
    cfg = config(tasks={"pose": False, "detect": True, "track": True}, pantilt={"rig": "sim"})
    with Pipeline(cfg, sink) as pipeline:
        assert pipeline.run(threading.Event(), max_frames=30) == 30
        seen = [e for e in sink.events if isinstance(e, DetectionEvent)]
        assert any(e.type == "new" for e in seen)  # people walk through the clip from the start
        open_tracks = {e.after["id"] for e in seen if e.type == "new"} - {e.after["id"] for e in seen if e.type == "end"}
        assert open_tracks
        before_close = len(sink.events)
    ended = {e.after["id"] for e in sink.events[before_close:] if isinstance(e, DetectionEvent) and e.type == "end"}
    assert ended >= open_tracks
    assert pipeline.pantilt.rig.actuator.closed
    assert pipeline.pantilt.rig.position == (cfg.pantilt.pan.home, cfg.pantilt.tilt.home)
    events = len(sink.events)
    pipeline.close()
    assert len(sink.events) == events


def test_with_the_detector_poses_are_per_person_with_their_track_ids():
    sink = ListSink()
    cfg = config(tasks={"pose": True, "classify": True, "detect": True}, pose={"people": 3},
                 detect={"labels_allow": ["person"]})
    pipeline = Pipeline(cfg, sink)
    results, filtered = [], []  # with each frame, whose keypoint filters the pose side keeps
    pipeline.run(threading.Event(), max_frames=30,
                 on_frame=lambda r: (results.append(r), filtered.append(pipeline.smoother.people_filtered)))
    pipeline.close()
    assert all(len(r.people) <= 3 for r in results)
    # a filter for each person posed in the frame and nobody else: one who leaves drops theirs
    assert [set(f) for f in filtered] == [{p.id for p in r.people} or ({None} if r.pose else set()) for r in results]
    late = results[10:]  # tracks confirmed, crops planned
    assert all(len(r.people) == 3 for r in late)
    ids = {p.id for r in late for p in r.people}
    assert None not in ids and len(ids) <= 5
    for r in late:  # each pose sits on its own person's box
        boxes = {d.id: d.box for d in r.detections if d.id is not None}
        for p in r.people:
            x0, y0, x1, y1 = p.pose.box
            cx = (x0 + x1) / 2
            assert p.id not in boxes or boxes[p.id].xmin - 0.05 <= cx <= boxes[p.id].xmax + 0.05
        assert set(r.classifications) == {p.id for p in r.people} and r.pose is r.people[0].pose
    poses = [e for e in sink.events if isinstance(e, PoseEvent)]
    first = min(r.frame.index for r in results if r.people)
    # Until the tracker confirms someone, the single-pose path runs (no id); then every pose has one.
    assert all(e.person_id is None for e in poses if e.frame < first)
    assert all(isinstance(e.person_id, int) for e in poses if e.frame >= first) and first <= 10
    assert {e.body()["person"] for e in poses if e.person} == {p.id for r in results for p in r.people}
    assert pipeline.stats.invokes["pose"] >= 3 * 20  # an invoke per person per frame
    classes = [e for e in sink.events if isinstance(e, PoseClassEvent)]
    assert all(isinstance(e.person, int) for e in classes)


@pytest.mark.parametrize("bad, key", [({"people": 0}, "pose.people"), ({"people": 7}, "pose.people"),
                                      ({"select": "biggest"}, "pose.select")])
def test_bad_people_settings_name_the_key(bad, key):
    from edgeapp.errors import ConfigError

    with pytest.raises(ConfigError, match=key):
        config(tasks={"pose": True, "detect": True}, pose=bad)
    with pytest.raises(ConfigError, match="pose.people: more than one person needs tasks.detect"):
        config(tasks={"pose": True}, pose={"people": 2})


def test_the_service_keeps_the_pose_on_its_person_when_a_bystander_walks_behind(tmp_path):
    from support.people_clip import bystander_clip

    clip = bystander_clip(tmp_path / "bystander.avi")
    cfg = config(source={"uri": str(clip)}, tasks={"pose": True, "detect": True, "track": True},
                 pantilt={"rig": "sim"}, pose={"select": "target"}, detect={"labels_allow": ["person"]})
    sink = ListSink()
    pipeline = Pipeline(cfg, sink)
    results = []
    pipeline.run(threading.Event(), on_frame=results.append)
    pipeline.close()
    whose = [(r.people[0].id, r.people[0].box.center[0]) for r in results if r.people]
    assert len(whose) >= 25 and len({i for i, _ in whose}) == 1 and all(abs(x - 0.5) < 0.05 for _, x in whose)
    assert any(d.id not in (None, whose[0][0]) for r in results for d in r.detections)  # the bystander was tracked


def test_each_pose_is_filtered_once_and_classification_reps_and_events_read_that_pose(monkeypatch):
    """One keypoint filter step per person per frame, on the pose side: the classifier's joints, the rep counter's
    input and the pose event are the filtered pose, which is the raw pose through one filter with [pose.smoothing]'s
    constants (not the defaults: a consumer filtering on its own would differ)."""
    from edgeapp.exercise import ExerciseLibrary, RepsStage
    from edgeapp.pose.smoothing import KeypointFilter, PoseSmoothingConfig

    steps = []
    real_step = KeypointFilter.step
    monkeypatch.setattr(KeypointFilter, "step", lambda self, *a: steps.append(id(self)) or real_step(self, *a))
    smoothing = {"min_cutoff_hz": 1.0, "beta": 20.0}
    sink = ListSink()
    pipeline = Pipeline(config(tasks={"pose": True, "classify": True, "reps": True}, pose={"smoothing": smoothing}), sink)
    reference = KeypointFilter(PoseSmoothingConfig(**smoothing).one_euro())
    reps = RepsStage(ExerciseLibrary(), pipeline.config.reps)
    joints = pipeline.classify_stage.classifier.joints
    seen = 0
    for frame in pipeline.source.frames():
        if frame.index == 40:
            break
        before = len(steps)
        inference = pipeline.infer(frame)
        result = pipeline.finish(inference)
        assert len(steps) - before == (inference.pose is not None)  # once a frame, for the one person
        expected = reference.pose(inference.pose, frame.time)
        if expected is None:
            assert result.pose is None
            continue
        seen += 1
        np.testing.assert_array_equal(result.pose.xy, expected.xy)
        np.testing.assert_array_equal(result.pose.scores, expected.scores)
        np.testing.assert_array_equal(joints, np.column_stack((expected.xy, expected.scores)))  # what it classified
        assert result.reps == reps.update(result.pose, frame.time)  # the counter read the same pose, unfiltered again
        assert [e.pose for e in sink.events if isinstance(e, PoseEvent)][-1] is result.pose
    pipeline.close()
    assert seen >= 20 and not np.array_equal(expected.xy, inference.pose.xy)  # people were there, and filtered
