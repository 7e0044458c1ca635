"""The service configuration: one TOML file, one typed dataclass per table.

See ``systemd/config.example.toml`` for every key with its default. Errors name
the key path (``source.reconnect_max_s``) and what was expected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from edgeapp.classify.config import ClassifyConfig
from edgeapp.camera.live import is_device, picamera_index
from edgeapp.credentials import read_toml_file
from edgeapp.detect.detector import DetectConfig
from edgeapp.pantilt.config import PanTiltConfig
from edgeapp.pantilt.rigs import NO_RIG, RIGS
from edgeapp.pose.people import MAX_PEOPLE
from edgeapp.pose.smoothing import PoseSmoothingConfig
from edgeapp.errors import ConfigError
from edgeapp.exercise.config import RepsConfig, check_reps
from edgeapp.exercise.definition import Exercise
from edgeapp.mqtt.config import MqttConfig
from edgeapp.preview.config import PreviewConfig
from edgeapp.runtime.backend import DEFAULT_DELEGATE, BackendRequest
from edgeapp.settings import WHEN_PRESENT, Problems, read

DEFAULT_CONFIG = Path("/etc/edgeapp/config.toml")
OUTBOX_FILE = "outbox.sqlite3"  # in service.state_dir, unless mqtt.outbox_path says otherwise


@dataclass(frozen=True)
class SourceConfig:
    """Where frames come from: a file, folder, /dev/videoN, an rtsp:// or http:// URL, or picamera2[:N]."""

    uri: str = "picamera2"  # picamera2[:N], /dev/videoN, rtsp://, http:// (MJPEG), a video file or an image folder
    loop: bool = False  # files: start again at the end (a kiosk demo clip)
    width: int = 640  # cameras: requested width
    height: int = 480  # cameras: requested height
    fps: float = 30.0  # cameras: requested rate
    reconnect_min_s: float = 0.5  # a camera that fails is reopened with backoff from this...
    reconnect_max_s: float = 30.0  # ...up to this
    read_timeout_s: float = 5.0  # a live camera silent this long is reopened
    rotate: int = 0  # degrees clockwise every frame is turned: 180 for a camera mounted upside down (90, 270)

    def check(self, problems: Problems) -> None:
        problems.require(bool(self.uri), "uri", "must not be empty")
        problems.require(16 <= self.width <= 8192 and 16 <= self.height <= 8192, "width",
                         "width and height must be 16..8192")
        problems.require(0 < self.fps <= 240, "fps", f"must be in (0, 240], got {self.fps}")
        problems.require(0 < self.reconnect_min_s <= self.reconnect_max_s, "reconnect_min_s",
                         "must be > 0 and not above reconnect_max_s")
        problems.require(self.read_timeout_s > 0, "read_timeout_s", "must be > 0")
        problems.require(self.rotate in (0, 90, 180, 270), "rotate",
                         f"must be 0, 90, 180 or 270 (degrees clockwise), got {self.rotate}")


@dataclass(frozen=True)
class TasksConfig:
    pose: bool = True  # MoveNet pose estimation
    classify: bool = False  # classify the pose (needs pose)
    detect: bool = False  # object detection and tracks
    track: bool = False  # follow the target with the pan/tilt rig (needs detect and a rig)
    reps: bool = False  # count exercise repetitions (needs pose; [reps])

    def check(self, problems: Problems) -> None:
        problems.require(not self.classify or self.pose, "classify", "needs tasks.pose = true (it classifies the pose)")
        problems.require(not self.reps or self.pose, "reps", "needs tasks.pose = true (it counts on the pose)")
        problems.require(not self.track or self.detect, "track", "needs tasks.detect = true (it follows detections)")
        problems.require(self.pose or self.detect, "pose", "at least one of tasks.pose and tasks.detect must be on")


@dataclass(frozen=True)
class RuntimeConfig:
    backend: Literal["auto", "cpu", "edgetpu"] = "auto"  # auto: the Edge TPU when present (and the model has a twin)
    threads: int = 4  # CPU threads per model
    edgetpu_device: str = "usb"  # usb, pci, usb:N, pci:N
    delegate: str = DEFAULT_DELEGATE  # the Edge TPU delegate library
    tpu_retry_s: float = 60.0  # after a fallback, how often to try the Edge TPU again
    models_dir: str = ""  # default: $EDGEAPP_MODELS_DIR, the checkout's models/, or /var/lib/edgeapp/models

    def check(self, problems: Problems) -> None:
        problems.require(self.tpu_retry_s >= 1, "tpu_retry_s", "must be at least 1 second")
        try:
            self.request()
        except ConfigError as exc:
            problems.add({"edgetpu.device": "edgetpu_device"}.get(exc.path, exc.path), exc.message)

    def request(self) -> BackendRequest:
        return BackendRequest(self.backend, self.edgetpu_device, self.threads, self.delegate)


@dataclass(frozen=True)
class PoseConfig:
    model: str = "movenet-lightning-int8"  # a registry name (edgeapp models list) or a .tflite path
    smart_crop: bool = True  # crop around the last pose (MoveNet's smart cropping)
    min_person_score: float = 0.2  # below this mean keypoint score nobody is there
    people: int = 1  # with tasks.detect: poses of up to this many tracked people per frame (one invoke each)
    select: Literal["target", "largest", "center", "longest"] = "largest"  # with people = 1: whose pose
    smoothing: PoseSmoothingConfig = field(default_factory=PoseSmoothingConfig)  # One Euro per person, video only

    def check(self, problems: Problems) -> None:
        problems.require(0 <= self.min_person_score <= 1, "min_person_score", "must be between 0 and 1")
        problems.require(1 <= self.people <= MAX_PEOPLE, "people", f"must be from 1 to {MAX_PEOPLE}, got {self.people}")


@dataclass(frozen=True)
class ServiceConfig:
    state_dir: str = ""  # holds the outbox; "": $STATE_DIRECTORY (the unit's StateDirectory), else /var/lib/edgeapp
    stall_timeout_s: float = 30.0  # a frame loop stuck this long exits so the supervisor restarts it
    log_level: Literal["debug", "info", "warning", "error"] = "info"  # the service's log level
    drain_s: float = 5.0  # on stop, how long the outbox may take to flush

    def check(self, problems: Problems) -> None:
        problems.require(self.stall_timeout_s >= 5, "stall_timeout_s", "must be at least 5 seconds")
        problems.require(0 <= self.drain_s <= 60, "drain_s", "must be between 0 and 60 seconds")

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir or os.environ.get("STATE_DIRECTORY", "").split(":")[0] or "/var/lib/edgeapp")


@dataclass(frozen=True)
class AppConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    # Left out: no broker. Written, even empty: the broker, with the defaults.
    mqtt: MqttConfig = field(default_factory=lambda: MqttConfig(enabled=False), metadata={WHEN_PRESENT: MqttConfig})
    preview: PreviewConfig = field(default_factory=PreviewConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    pantilt: PanTiltConfig = field(default_factory=PanTiltConfig)
    reps: RepsConfig = field(default_factory=RepsConfig)
    exercise: dict[str, Exercise] = field(default_factory=dict)  # [exercise.<name>]: the user's own

    def __post_init__(self) -> None:
        if not self.mqtt.outbox_path:  # the outbox lives in the service's state directory unless placed elsewhere
            outbox = str(self.service.state_path / OUTBOX_FILE)
            object.__setattr__(self, "mqtt", replace(self.mqtt, outbox_path=outbox))

    def check(self, problems: Problems) -> None:
        problems.require(not self.tasks.track or self.pantilt.rig != NO_RIG, "pantilt.rig",
                         f"tasks.track needs a rig: {', '.join(RIGS)}")
        check_reps(problems, self.reps, self.exercise)
        problems.require(self.pose.people == 1 or self.tasks.detect, "pose.people",
                         "more than one person needs tasks.detect = true (the detector finds them)")


# Keys that name files or folders. A relative one is taken relative to the config file's folder, so a config works
# from any working directory. Model and labels keys also take registry names: only path-looking values move.
PATH_KEYS = {
    "source": ("uri",), "runtime": ("models_dir",), "service": ("state_dir",),
    "mqtt": ("password_file", "tls_ca", "tls_cert", "tls_key", "outbox_path"), "preview": ("token_file",),
    "classify": ("model", "labels"), "detect": ("model", "labels"),
}


def _looks_like_path(table: str, key: str, value: str) -> bool:
    if not value or os.path.isabs(value) or "://" in value:  # a URL of any scheme stays as written
        return False
    if table == "source":  # a camera by index or name is no file: the predicates that choose the source decide
        return not (is_device(value) or picamera_index(value) is not None)
    if table in ("classify", "detect"):  # "yoga-classifier" is a registry name, "mine/model.tflite" a file
        return "/" in value or value.endswith((".tflite", ".txt", ".json"))
    return True


def resolve_paths(data: dict, base: Path) -> dict:
    """A copy of the parsed file with relative paths made relative to ``base`` (the config file's folder)."""
    out = dict(data)
    for table, keys in PATH_KEYS.items():
        section = out.get(table)
        if not isinstance(section, dict):
            continue
        section = out[table] = dict(section)
        for key in keys:
            value = section.get(key)
            if isinstance(value, str) and _looks_like_path(table, key, value):
                section[key] = os.path.normpath(base / value)
    return out


def load_config(path: str | Path) -> AppConfig:
    path = Path(path)
    return read(AppConfig, resolve_paths(read_toml_file(path, "config file"), path.resolve().parent))
