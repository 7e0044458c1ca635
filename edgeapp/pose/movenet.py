"""MoveNet single-pose estimation on a frame, with the crop carried between frames."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from edgeapp.errors import ModelError
from edgeapp.pose.crop import CropRegion, determine_crop_region, init_crop_region
from edgeapp.pose.keypoint import Pose
from edgeapp.runtime.model import Model, blank_outside
from edgeapp.window import InputWindow, to_frame_normalised

STILL_IMAGE_PASSES = 3
_OUTPUT_SHAPE = (1, 1, 17, 3)


def check_pose_model(model: Model) -> tuple[int, int]:
    """The model's square input size, or a ModelError saying why it is not a single-pose MoveNet."""
    size = model.image_input_size()
    if size is None or size[0] != size[1]:
        raise ModelError(
            f"{model.path.name} does not look like a MoveNet single-pose model: "
            f"its input is {list(model.input.shape)}, expected [1, N, N, 3]"
        )
    out = model.outputs[0].shape
    if len(model.outputs) != 1 or tuple(out) != _OUTPUT_SHAPE:
        shapes = [list(o.shape) for o in model.outputs]
        raise ModelError(
            f"{model.path.name} does not look like a MoveNet single-pose model: "
            f"its outputs are {shapes}, expected one [1, 1, 17, 3] tensor of (y, x, score)"
        )
    return size


class MoveNet:
    """Single-person MoveNet (Lightning or Thunder, any precision).

    In video mode (:meth:`estimate`) the crop for each frame comes from the
    previous frame's keypoints. Still images (:meth:`estimate_still`) get the
    tutorial's treatment: a reset, then several passes on the same image.
    """

    def __init__(self, model: Model, smart_crop: bool = True):
        self.model = model
        self.input_size = check_pose_model(model)[0]
        self.smart_crop = smart_crop
        self._region: CropRegion | None = None
        self._frame_size: tuple[int, int] | None = None
        self._whole: CropRegion | None = None  # the padded whole frame: the region with no crop to start from
        self.last_invoke_s: tuple[float, ...] = ()  # each invoke's seconds in the last estimate
        self._pixels: np.ndarray | None = None  # several people's crops, sampled before their invokes

    @property
    def crop_region(self) -> CropRegion | None:
        return self._region

    def reset(self) -> None:
        self._region = None

    def estimate(self, frame: np.ndarray) -> Pose:
        """Video mode: the crop comes from the previous frame's keypoints. A frame with no crop to start from
        (the first, or the first after nobody was found) whose pass gives a crop is run once more, in that crop:
        the whole-frame pass places joints poorly, and a person's first frame would be answered on it (README,
        "The first frame of a person"). A frame where nobody is found costs one invoke."""
        h, w = frame.shape[:2]
        if self._region is None or not self.smart_crop or self._frame_size != (w, h):
            self._start(w, h)
        cold = self._region == self._whole
        pose = self._pass(frame, w, h)
        if cold and self._region != self._whole:  # the pass found a body and the crop it gives
            first = self.last_invoke_s
            pose = self._pass(frame, w, h)
            self.last_invoke_s = first + self.last_invoke_s
        return pose

    def estimate_still(self, frame: np.ndarray, passes: int = STILL_IMAGE_PASSES) -> Pose:
        """The tutorial's still image: from the whole frame, ``passes`` passes each in the crop the last gave."""
        h, w = frame.shape[:2]
        self._start(w, h)
        times: tuple[float, ...] = ()
        for _ in range(passes):
            pose = self._pass(frame, w, h)
            times += self.last_invoke_s
        self.last_invoke_s = times
        return pose

    def _start(self, w: int, h: int) -> None:
        self._whole = self._region = init_crop_region(h, w)
        self._frame_size = (w, h)

    def _pass(self, frame: np.ndarray, w: int, h: int) -> Pose:
        pose = self.estimate_in(frame, self._region.window(w, h))
        if self.smart_crop:
            self._region = determine_crop_region(pose.xy, pose.scores, h, w)
        return pose

    def estimate_in(self, frame: np.ndarray, window: InputWindow, keep: InputWindow | None = None) -> Pose:
        """Run once on one window of the frame, keypoints mapped back to the whole frame. With
        ``keep``, the model sees only that part of the window (one person among several)."""
        return self.estimate_windows(frame, (window,), (keep,))[0]

    def estimate_windows(self, frame: np.ndarray, windows: Sequence[InputWindow],
                         keeps: Sequence[InputWindow | None] = ()) -> list[Pose]:
        """One invoke per window (one person each; ``keeps[i]``, if given, as ``keep`` in :meth:`estimate_in`),
        keypoints mapped back to the frame. Right after an invoke the caches are cold, and any work there
        takes several times its warm time. So with several windows every crop is sampled before the first
        invoke, and between two invokes only the next crop is copied in and the output copied out; every
        keypoint is mapped back in one pass after the last invoke. The invoke times are :attr:`last_invoke_s`."""
        model = self.model  # read once: a failover wrapper forwards every attribute
        pixels = self._sample_ahead(frame, windows, keeps)
        raw = np.empty((len(windows), *_OUTPUT_SHAPE[2:]), np.float32)  # per window: 17 x (y, x, score)
        times = []
        for i, window in enumerate(windows):
            if pixels is not None:
                model.write_pixels(pixels[i:i + 1])
            else:
                model.write_window(frame, window)
                if i < len(keeps) and keeps[i] is not None:
                    blank_outside(model, window, keeps[i])
            times.append(model.invoke())  # may swap the wrapped model: its output is read after
            raw[i] = model.output(0)[0, 0]  # normalised to the window
        self.last_invoke_s = tuple(times)
        h, w = frame.shape[:2]
        xy = to_frame_normalised(windows, raw[:, :, 1::-1], w, h)
        scores = raw[:, :, 2].astype(np.float64)
        return [Pose(xy=xy[i], scores=scores[i], frame_size=(w, h)) for i in range(len(windows))]

    def _sample_ahead(self, frame: np.ndarray, windows: Sequence[InputWindow],
                      keeps: Sequence[InputWindow | None]) -> np.ndarray | None:
        """Every window's input pixels, sampled back to back while the frame is in cache (several windows of a
        uint8-input model, none blacked out around a person); None to write each window when its turn comes."""
        model = self.model
        if len(windows) < 2 or any(k is not None for k in keeps) or not model.takes_pixels:
            return None
        if self._pixels is None or len(self._pixels) < len(windows):
            self._pixels = np.empty((len(windows), self.input_size, self.input_size, 3), np.uint8)
        for i, window in enumerate(windows):
            model.sample_pixels(frame, window, self._pixels[i])
        return self._pixels
