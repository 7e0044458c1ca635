"""A loaded model: one interpreter, its tensors described once, and timed invokes.

The adapters around it (pose, classifier, detector) read what they need from
:class:`TensorSpec` instead of assuming positions, because models of the same
task order their outputs differently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeapp.runtime.backend import BackendInfo, BackendRequest, ModelFiles, open_interpreter
from edgeapp.window import InputWindow, sample


@dataclass(frozen=True)
class TensorSpec:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0

    @classmethod
    def from_details(cls, d: dict) -> TensorSpec:
        scale, zero = d.get("quantization", (0.0, 0))
        return cls(d["index"], d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]), float(scale), int(zero))

    @property
    def quantized(self) -> bool:
        return self.scale > 0.0


class Model:
    """One interpreter on one backend. Not thread-safe: one inference thread owns it."""

    def __init__(self, interpreter, info: BackendInfo):
        self.interpreter = interpreter
        self.info = info
        inputs = interpreter.get_input_details()
        self.inputs = tuple(TensorSpec.from_details(d) for d in inputs)
        self.outputs = tuple(TensorSpec.from_details(d) for d in interpreter.get_output_details())
        self.last_invoke_s = 0.0
        # Read once: a pose invoke per person per frame makes these lookups part of every person's cost.
        self._input_view = interpreter.tensor(self.inputs[0].index)
        self._image_size = self._read_image_input_size()

    @classmethod
    def open(cls, files: ModelFiles | Path | str, request: BackendRequest | None = None) -> Model:
        if not isinstance(files, ModelFiles):
            files = ModelFiles.from_path(Path(files))
        interpreter, info = open_interpreter(files, request or BackendRequest())
        return cls(interpreter, info)

    @property
    def path(self) -> Path:
        return self.info.model_path

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    def image_input_size(self) -> tuple[int, int] | None:
        """(width, height) of an NHWC 3-channel image input, or None if the input is not an image."""
        return self._image_size

    def _read_image_input_size(self) -> tuple[int, int] | None:
        shape = self.input.shape
        if len(shape) == 4 and shape[0] == 1 and shape[3] == 3:
            return shape[2], shape[1]
        return None

    def input_buffer(self) -> np.ndarray:
        """A view of the input tensor for in-place writes. Drop it before :meth:`invoke`."""
        return self._input_view()

    def set_input(self, value: np.ndarray, index: int = 0) -> None:
        spec = self.inputs[index]
        self.interpreter.set_tensor(spec.index, np.asarray(value, dtype=spec.dtype).reshape(spec.shape))

    def invoke(self) -> float:
        """Run the model; returns (and keeps) the invoke time in seconds."""
        start = time.perf_counter()
        self.interpreter.invoke()
        self.last_invoke_s = time.perf_counter() - start
        return self.last_invoke_s

    def output(self, spec: TensorSpec | int) -> np.ndarray:
        index = spec.index if isinstance(spec, TensorSpec) else self.outputs[spec].index
        return self.interpreter.get_tensor(index)

    def output_named(self, fragment: str) -> TensorSpec | None:
        """The first output whose name contains ``fragment``."""
        return next((o for o in self.outputs if fragment in o.name), None)

    @property
    def takes_pixels(self) -> bool:
        """Whether the input is a uint8 image, which takes a frame's pixels as they are."""
        return self._image_size is not None and self.inputs[0].dtype == np.uint8

    def write_window(self, frame: np.ndarray, window: InputWindow) -> None:
        """Sample a window of a BGR frame into the image input: for uint8 inputs straight into the
        tensor, channels swapped in place, with no intermediate image."""
        w, h = self._image_size
        if not self.takes_pixels:
            write_image(self, sample(frame, window, w, h))
            return
        buf = self._input_view()
        image = buf[0]
        try:
            self.sample_pixels(frame, window, image)
        finally:
            del buf, image  # the interpreter refuses to invoke while views of its buffers are alive

    def sample_pixels(self, frame: np.ndarray, window: InputWindow, dst: np.ndarray) -> None:
        """A window of a BGR frame as the RGB pixels a uint8 image input takes, into ``dst`` (h x w x 3)."""
        import cv2

        w, h = self._image_size
        sample(frame, window, w, h, dst=dst)
        cv2.cvtColor(dst, cv2.COLOR_BGR2RGB, dst=dst)

    def write_pixels(self, pixels: np.ndarray) -> None:
        """Copy pixels made by :meth:`sample_pixels` (``1 x h x w x 3``) into the input."""
        self.interpreter.set_tensor(self.inputs[0].index, pixels)


def write_image(model: Model, bgr: np.ndarray, mean: float = 0.0, std: float = 1.0) -> None:
    """Write a BGR image of the input's size into the model's input tensor as RGB.

    uint8 inputs take raw pixels (their quantization already encodes the model's
    normalisation, as pycoral assumes); int8 inputs take pixels shifted by 128;
    float inputs take ``(pixel - mean) / std``.
    """
    import cv2  # local: cv2 is heavy and only image models need it

    spec = model.input
    buf = model.input_buffer()
    try:
        if spec.dtype == np.uint8:
            cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=buf[0])
            return
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if spec.dtype == np.int8:
            buf[0] = (rgb.astype(np.int16) - 128).astype(np.int8)
        elif spec.dtype.kind == "f":
            buf[0] = (rgb.astype(np.float32) - mean) / std
        else:
            buf[0] = rgb
    finally:
        del buf  # the interpreter refuses to invoke while views of its buffers are alive


def blank_outside(model: Model, window: InputWindow, keep: InputWindow) -> None:
    """Black out the model's image input outside ``keep`` (frame pixels), after :meth:`Model.write_window`
    sampled ``window`` into it: a crop around one person then shows no neighbour to mistake for them."""
    w, h = model.image_input_size()
    sx, sy = w / window.width, h / window.height
    x0 = min(max(int(round((keep.x0 - window.x0) * sx)), 0), w)
    x1 = min(max(int(round((keep.x1 - window.x0) * sx)), x0), w)
    y0 = min(max(int(round((keep.y0 - window.y0) * sy)), 0), h)
    y1 = min(max(int(round((keep.y1 - window.y0) * sy)), y0), h)
    if (x0, y0, x1, y1) == (0, 0, w, h):
        return
    buf = model.input_buffer()
    try:
        image = buf[0]
        image[:y0] = 0
        image[y1:] = 0
        image[:, :x0] = 0
        image[:, x1:] = 0
    finally:
        del buf
