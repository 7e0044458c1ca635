"""How a person's first video frame is answered, by the number of MoveNet passes it gets (README, "Pose").

A first frame has no crop to start from: MoveNet sees the whole frame. Every Nth yoga_poses_train photo is taken
as such a frame and classified by the shipped model after 1, 2 and 3 passes (each pass in the crop the one before
gave; 3 is the still-image treatment), and as `MoveNet.estimate` now answers a first frame:

    python tools/first_frame_passes.py 4      # every 4th photo: 250, ~1 min on 2 cores
"""

import sys
from pathlib import Path

from edgeapp.camera.files import read_image
from edgeapp.classify.classifier import PoseClassifier
from edgeapp.pose import MoveNet
from edgeapp.registry import Registry
from edgeapp.runtime.backend import BackendRequest
from edgeapp.runtime.model import Model

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    every = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    registry = Registry()
    movenet = MoveNet(Model.open(registry.resolve(None, "pose"), BackendRequest(kind="cpu", threads=2)))
    classifier = PoseClassifier.open(ROOT / "models" / "yoga-lightning" / "classifier.tflite")
    photos = sorted((ROOT.parent / "shared" / "data" / "yoga" / "yoga_poses_train").glob("*/*.jpg"))[::every]
    ways = {"1 pass": lambda im: movenet.estimate_still(im, 1), "2 passes": lambda im: movenet.estimate_still(im, 2),
            "3 passes": lambda im: movenet.estimate_still(im, 3), "first video frame": first_frame(movenet)}
    right = dict.fromkeys(ways, 0)
    other = dict.fromkeys(ways, 0)
    for photo in photos:
        image = read_image(photo)
        for way, pose_of in ways.items():
            answer = classifier.classify(pose_of(image))
            right[way] += answer.label == photo.parent.name
            other[way] += answer.status == "other"
    print(f"{len(photos)} photos as first frames: " + "; ".join(
        f"{way} {right[way]} right, {other[way]} other" for way in ways))


def first_frame(movenet: MoveNet):
    def pose_of(image):
        movenet.reset()
        return movenet.estimate(image)
    return pose_of


if __name__ == "__main__":
    main()
