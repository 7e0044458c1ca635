"""A clip again as another camera would give it: mirrored, smaller, faster, at a higher frame rate.

An answer that holds on a clip should hold on these (the same people doing the same things), so tests use them
to check a figure on inputs nobody tuned it on, without new footage.
"""

from __future__ import annotations

from pathlib import Path

import cv2


def rewrite(src: Path, dst: Path, *, mirror: bool = False, scale: float = 1.0, speed: float = 1.0,
            between: int = 0) -> Path:
    """``dst`` (.mp4) from ``src``'s frames: mirrored left-right; resized by ``scale`` (area resampling);
    stamped ``speed`` times the frame rate (played faster, the motion faster too); with ``between`` frames blended
    in between each pair and the frame rate raised to match (a faster camera: the same motion, more frames)."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) * speed * (between + 1)
    writer, previous = None, None
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            if mirror:
                image = cv2.flip(image, 1)
            if scale != 1.0:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if writer is None:
                h, w = image.shape[:2]
                writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            if previous is not None:
                for i in range(1, between + 1):
                    a = i / (between + 1)
                    writer.write(cv2.addWeighted(previous, 1 - a, image, a, 0))
            writer.write(image)
            previous = image
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if writer is None:
        raise ValueError(f"{src}: no frame")
    return dst


def rewrite_sequence(src: Path, dst: Path, *, mirror: bool = False, scale: float = 1.0) -> Path:
    """A MOTChallenge sequence (``img1/``, ``gt/gt.txt``, ``det/det.txt``) mirrored left-right and/or resized by
    ``scale``, its boxes moved alike (JPEG quality 95)."""
    frames = sorted((src / "img1").glob("*.jpg"))
    width = None
    (dst / "img1").mkdir(parents=True)
    for f in frames:
        image = cv2.imread(str(f))
        width = image.shape[1]
        if mirror:
            image = cv2.flip(image, 1)
        if scale != 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(dst / "img1" / f.name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    for name in ("gt/gt.txt", "det/det.txt"):
        rows = []
        for line in (src / name).read_text().splitlines():
            p = line.split(",")
            x, y, w, h = map(float, p[2:6])
            if mirror:
                x = width - x - w
            p[2:6] = (f"{v * scale:g}" for v in (x, y, w, h))
            rows.append(",".join(p) + "\n")
        (dst / name).parent.mkdir(exist_ok=True)
        (dst / name).write_text("".join(rows))
    return dst
