"""Single-person pose estimation (MoveNet) with smart cropping."""

from edgeapp.pose.keypoint import KEYPOINT_NAMES, BodyPart, Keypoint, Pose
from edgeapp.pose.crop import CropRegion
from edgeapp.pose.movenet import MoveNet

__all__ = ["KEYPOINT_NAMES", "BodyPart", "Keypoint", "Pose", "CropRegion", "MoveNet"]
