"""SSD-style detection with the TFLite detection post-processing op, on the CPU or the Edge TPU.

Like pycoral's ``detect.get_objects``, this is a thin adapter over the
interpreter: find the four outputs (boxes, classes, scores, count), keep what
passes the threshold and the label lists, map boxes back to the frame. The
outputs come in three layouts (pycoral v2 handles the same three):

* ``tf1``: boxes, classes, scores, count (TF1 OD API exports, the Coral SSDs,
  EfficientDet-Lite from the TF Lite samples);
* ``tf2``: scores, boxes, count, classes (TF2 / Model Maker exports);
* ``signature``: a ``serving_default`` signature naming ``output_0`` count,
  ``output_1`` scores, ``output_2`` classes, ``output_3`` boxes.

They are resolved once, from names and shapes, by :func:`resolve_layout`, a
pure function so each layout can be tested with arrays shaped like it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np

from edgeapp.detect.detection import BBox, Detection
from edgeapp.detect.labels import Labels
from edgeapp.detect.tracker import ObjectTracker, TrackerConfig
from edgeapp.settings import Problems
from edgeapp.errors import ModelError
from edgeapp.registry import DEFAULT_MODELS, Registry
from edgeapp.runtime.backend import BackendRequest
from edgeapp.runtime.model import Model, write_image
from edgeapp.window import InputWindow, sample, to_frame

log = logging.getLogger(__name__)

_POSTPROCESS = "TFLite_Detection_PostProcess"
# The op's outputs are always boxes, classes, scores, count, named with these suffixes.
_POSTPROCESS_SUFFIX = {"": "boxes", ":1": "classes", ":2": "scores", ":3": "count"}
# pycoral's reading of a serving_default signature.
_SIGNATURE_KEYS = {"output_0": "count", "output_1": "scores", "output_2": "classes", "output_3": "boxes"}
# TF2 Object Detection API exports that keep the descriptive names.
_NAMED_KEYS = {"detection_boxes": "boxes", "detection_classes": "classes",
               "detection_scores": "scores", "num_detections": "count"}


@dataclass(frozen=True)
class DetectConfig:
    """The ``[detect]`` table."""

    model: str = DEFAULT_MODELS["detect"]  # registry name or .tflite path
    labels: str = ""  # a labels file, or a registry labels name; default: the model's own from the registry
    labels_background: Literal["auto", "yes", "no"] = "auto"  # is labels line 0 the background class?
    threshold: float = 0.5  # minimum score of a detection
    labels_allow: tuple[str, ...] = ()  # empty: every label
    labels_deny: tuple[str, ...] = ()  # never these labels
    max_results: int = 10  # at most this many detections per frame
    resize: Literal["stretch", "letterbox"] = "stretch"  # how the frame fits the input; boxes map back
    input_mean: float = 127.5  # only for float-input models: (pixel - mean) / std
    input_std: float = 127.5  # float-input models only
    tracker: TrackerConfig = field(default_factory=TrackerConfig)


    def check(self, problems: Problems) -> None:
        problems.require(0.0 <= self.threshold <= 1.0, "threshold", f"must be between 0 and 1, got {self.threshold}")
        problems.require(self.max_results >= 1, "max_results", f"must be at least 1, got {self.max_results}")
        problems.require(self.input_std != 0.0, "input_std", "must not be 0")
        problems.require(bool(self.model), "model", "must not be empty")


@dataclass(frozen=True)
class OutputLayout:
    """Positions of the four post-processed outputs in the model's output list."""

    kind: str
    boxes: int
    classes: int
    scores: int
    count: int


def resolve_layout(
    names: Sequence[str], shapes: Sequence[Sequence[int]], signature: Mapping[str, int] | None = None
) -> OutputLayout:
    """Which output is which, from the output names and shapes (and a signature's key -> output position).

    Names are trusted first (they are what the exporter meant), then positions
    the way pycoral tells TF1 from TF2: in TF1 order the 4th output is the count.
    """
    sizes = [int(np.prod(s)) if len(s) else 0 for s in shapes]
    if signature:
        for keys, kind in ((_SIGNATURE_KEYS, "signature"), (_NAMED_KEYS, "signature")):
            if set(keys) <= set(signature):
                roles = {role: signature[key] for key, role in keys.items()}
                return _checked(OutputLayout(kind, **roles), names, shapes)
    if len(names) != 4:
        raise ModelError(
            f"a detection model needs the 4 outputs of the TFLite detection post-processing op "
            f"(boxes, classes, scores, count); this one has {len(names)}: {_describe(names, shapes)}"
        )
    roles: dict[str, int] = {}
    for i, name in enumerate(names):
        if name.startswith(_POSTPROCESS):
            role = _POSTPROCESS_SUFFIX.get(name[len(_POSTPROCESS):])
            if role:
                roles[role] = i
    if len(roles) == 4:
        return _checked(OutputLayout("tf1", **roles), names, shapes)
    if sizes[3] == 1:
        return _checked(OutputLayout("tf1", boxes=0, classes=1, scores=2, count=3), names, shapes)
    return _checked(OutputLayout("tf2", scores=0, boxes=1, count=2, classes=3), names, shapes)


def _describe(names, shapes) -> str:
    return ", ".join(f"{n} {list(s)}" for n, s in zip(names, shapes))


def _checked(layout: OutputLayout, names, shapes) -> OutputLayout:
    """Shapes must agree with the roles, or the model is not what the layout says."""
    def shape(i):
        return tuple(int(v) for v in shapes[i])
    boxes, scores, classes, count = shape(layout.boxes), shape(layout.scores), shape(layout.classes), shape(layout.count)
    n = boxes[-2] if len(boxes) >= 2 else -1
    ok = (
        len(boxes) >= 2 and boxes[-1] == 4
        and int(np.prod(scores)) == n and int(np.prod(classes)) == n
        and int(np.prod(count)) == 1
    )
    if not ok:
        raise ModelError(
            f"the outputs do not fit the {layout.kind} detection layout "
            f"(boxes [1,N,4], classes [1,N], scores [1,N], count [1]): {_describe(names, shapes)}"
        )
    return layout


def split_outputs(outputs: Sequence[np.ndarray], layout: OutputLayout):
    """``(boxes [N,4] yxyx, classes [N], scores [N], count)`` as views of the output arrays."""
    boxes = outputs[layout.boxes].reshape(-1, 4)
    classes = outputs[layout.classes].reshape(-1)
    scores = outputs[layout.scores].reshape(-1)
    count = int(np.asarray(outputs[layout.count]).reshape(-1)[0])
    return boxes, classes, scores, count


def select(
    classes: np.ndarray, scores: np.ndarray, count: int, threshold: float, class_mask: np.ndarray,
    keep_unlisted: bool, max_results: int,
) -> list[int]:
    """Indices of the detections to report, best score first.

    ``class_mask[id]`` says whether class ``id`` is kept; ids past the mask (a
    model with more classes than its labels file) are kept when there is no allow list.
    """
    n = min(max(count, 0), scores.shape[0])
    # At most a few dozen candidates: plain Python beats numpy's per-call cost here by about 10x.
    mask = class_mask.tolist()
    size = len(mask)
    keep = [
        (i, score) for i, (cls, score) in enumerate(zip(classes[:n].tolist(), scores[:n].tolist()))
        if score >= threshold and cls >= 0 and (mask[int(cls)] if cls < size else keep_unlisted)
    ]
    # The op emits its results sorted already; a stable sort keeps that order for equal scores.
    keep.sort(key=lambda pair: -pair[1])
    return [i for i, _ in keep[:max_results]]


def boxes_to_frame(boxes_yxyx: np.ndarray, window: InputWindow, frame_w: int, frame_h: int) -> np.ndarray:
    """Input-normalised ``(ymin, xmin, ymax, xmax)`` to frame-normalised ``(xmin, ymin, xmax, ymax)``, clipped.

    The window is the rectangle of the frame that was mapped onto the input
    (the whole frame when stretched, more than the frame when letterboxed), so
    the same mapping serves both.
    """
    corners = boxes_yxyx[:, [[1, 0], [3, 2]]].astype(np.float64)  # [K, 2 corners, (x, y)]
    px = to_frame(window, corners)
    px[..., 0] /= frame_w
    px[..., 1] /= frame_h
    np.minimum(np.maximum(px, 0.0, out=px), 1.0, out=px)  # np.clip's scalar checks cost more than this
    return px.reshape(-1, 4)


def signature_positions(model: Model) -> dict[str, int]:
    """A single ``serving_default`` signature's output keys -> positions in ``model.outputs``; {} if none."""
    try:
        sigs = model.interpreter._get_full_signature_list()  # the only way to reach output keys by tensor
    except AttributeError:
        return {}
    if not sigs:
        return {}
    if len(sigs) > 1:
        log.warning("%s has %d signatures; using the output names and shapes instead", model.path.name, len(sigs))
        return {}
    outputs = next(iter(sigs.values())).get("outputs", {})
    position = {spec.index: i for i, spec in enumerate(model.outputs)}
    return {key: position[index] for key, index in outputs.items() if index in position}


def layout_of(model: Model) -> OutputLayout:
    names = [o.name for o in model.outputs]
    shapes = [o.shape for o in model.outputs]
    try:
        return resolve_layout(names, shapes, signature_positions(model))
    except ModelError as exc:
        raise ModelError(f"{model.path.name}: {exc}") from None


def load_labels(config: DetectConfig, registry: Registry | None, model_name: str) -> Labels:
    """The labels file named by the config, else the registry's for the model, else numbers."""
    text = config.labels
    if text:
        path = Path(text)
        if not path.is_file() and registry is not None and text in registry.entries:
            path = registry.path(text)
        return Labels.from_file(path, config.labels_background)
    if registry is not None:
        path = registry.labels_for(model_name)
        if path is not None:
            return Labels.from_file(path, config.labels_background)
    log.warning("no labels file for %s; detections are named by class number", model_name)
    return Labels({}, source="(no labels file)")


class Detector:
    """One detection model, its labels and its filters. One inference thread owns it."""

    def __init__(self, model: Model, labels: Labels, config: DetectConfig | None = None):
        self.model = model
        self.labels = labels
        self.config = config = config or DetectConfig()
        size = model.image_input_size()
        if size is None:
            raise ModelError(f"{model.path.name} does not take an image: its input is {list(model.input.shape)}")
        self.input_w, self.input_h = size
        self.layout = layout_of(model)
        allow = labels.ids_of(config.labels_allow, "detect.labels_allow") if config.labels_allow else None
        deny = labels.ids_of(config.labels_deny, "detect.labels_deny")
        size_ids = max(labels.max_id + 1, 1)
        self._mask = labels.class_mask(allow, deny, size_ids)
        self._keep_unlisted = allow is None
        # (frame size, window) in one tuple: replaced atomically, as two threads ask (capture and inference).
        self._window: tuple[tuple[int, int], InputWindow] | None = None
        self._outputs = list(model.outputs)

    @classmethod
    def open(cls, config: DetectConfig, request: BackendRequest | None = None,
             registry: Registry | None = None) -> Detector:
        """Open the model named by the config on the requested backend (the Edge TPU twin when there is one)."""
        registry = registry if registry is not None else Registry()
        files = registry.resolve(config.model, "detect")
        model = Model.open(files, request or BackendRequest())
        return cls(model, load_labels(config, registry, config.model), config)

    @property
    def last_invoke_s(self) -> float:
        return self.model.last_invoke_s

    def window(self, frame_w: int, frame_h: int) -> InputWindow:
        """The frame rectangle mapped onto the input, cached per frame size (it only changes with it)."""
        cached = self._window
        if cached is not None and cached[0] == (frame_w, frame_h):
            return cached[1]
        if self.config.resize == "letterbox":
            window = InputWindow.letterbox(frame_w, frame_h, self.input_w, self.input_h)
        else:
            window = InputWindow.stretch(frame_w, frame_h)
        self._window = ((frame_w, frame_h), window)
        return window

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The model's input image for a frame. It depends on the frame alone (not on earlier results),
        so the service computes it on the capture thread, overlapped with inference."""
        h, w = frame.shape[:2]
        return sample(frame, self.window(w, h), self.input_w, self.input_h)

    def new_tracker(self) -> ObjectTracker:
        """A tracker for this detector's output: its threshold divides strong from weak detections."""
        return ObjectTracker(self.config.tracker, high_score=self.config.threshold)

    @property
    def tracking_floor(self) -> float:
        """The lowest score a tracker still uses (to continue a track, never to start one)."""
        return self.config.tracker.low_score

    def detect(self, frame: np.ndarray, prepared: np.ndarray | None = None,
               floor: float | None = None) -> list[Detection]:
        """Detections in a BGR frame, best first, boxes normalised to the frame."""
        h, w = frame.shape[:2]
        return self.decode(self.run(frame, prepared), w, h, floor)

    def run(self, frame: np.ndarray, prepared: np.ndarray | None = None) -> list[np.ndarray]:
        """Invoke on a frame: the raw outputs (copies), for :meth:`decode` on any thread.

        The split lets the service keep its inference thread for invokes alone."""
        image = prepared if prepared is not None else self.prepare(frame)
        write_image(self.model, image, mean=self.config.input_mean, std=self.config.input_std)
        self.model.invoke()
        return [self.model.output(o) for o in self._outputs]

    def decode(self, outputs: Sequence[np.ndarray], frame_w: int, frame_h: int,
               floor: float | None = None) -> list[Detection]:
        """The raw outputs of :meth:`run` on a ``frame_w`` x ``frame_h`` frame as detections, best first.
        ``floor``: keep detections down to this score instead of the threshold (for a tracker's
        second association, which lets weak detections continue tracks)."""
        boxes, classes, scores, count = split_outputs(outputs, self.layout)
        threshold = self.config.threshold if floor is None else min(floor, self.config.threshold)
        idx = select(classes, scores, count, threshold, self._mask, self._keep_unlisted,
                     self.config.max_results)
        if not idx:
            return []
        framed = boxes_to_frame(boxes[idx], self.window(frame_w, frame_h), frame_w, frame_h)
        class_ids, kept_scores = classes[idx].tolist(), scores[idx].tolist()
        result = []
        for box, class_id, score in zip(framed.tolist(), class_ids, kept_scores):
            class_id = int(class_id)
            label = self.labels.name(class_id)
            x0, y0, x1, y1 = box
            if label is None or x1 <= x0 or y1 <= y0:  # a hole in the labels, or a box wholly in the padding
                continue
            result.append(Detection(label, class_id, score, BBox(x0, y0, x1, y1)))
        return result
