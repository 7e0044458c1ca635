"""Still images read from disk (``read_image``): the file read once and decoded from its bytes, turned by its EXIF
orientation exactly as ``cv2.imread`` turns it. The EXIF is written by hand here, as a camera writes it."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgeapp.camera.files import read_image
from edgeapp.errors import SourceError

ORIENTATION = 0x0112


def exif(orientation: int) -> bytes:
    """A big-endian TIFF block with one tag, Orientation (a SHORT), and no further IFD."""
    entry = struct.pack(">HHIHH", ORIENTATION, 3, 1, orientation, 0)
    return b"MM\x00\x2a" + struct.pack(">IH", 8, 1) + entry + struct.pack(">I", 0)


def jpeg_turned(image: np.ndarray, orientation: int) -> bytes:
    jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    app1 = b"Exif\x00\x00" + exif(orientation)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]  # right after SOI


def png_turned(image: np.ndarray, orientation: int) -> bytes:
    png = cv2.imencode(".png", image)[1].tobytes()
    body = b"eXIf" + exif(orientation)
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return png[:33] + chunk + png[33:]  # after the signature and IHDR, before the pixels


def quadrants(h: int = 40, w: int = 64) -> np.ndarray:
    """Four colours and a white corner: any turn or mirror changes it."""
    image = np.zeros((h, w, 3), np.uint8)
    image[: h // 2, : w // 2] = (255, 0, 0)
    image[: h // 2, w // 2:] = (0, 255, 0)
    image[h // 2:, : w // 2] = (0, 0, 255)
    image[h // 2:, w // 2:] = (255, 255, 0)
    image[:6, :6] = 255
    return image


@pytest.mark.parametrize("kind", ["jpg", "png"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_photo_is_turned_by_its_exif_orientation_as_imread_turns_it(tmp_path, kind, orientation):
    path = tmp_path / f"photo.{kind}"
    path.write_bytes((jpeg_turned if kind == "jpg" else png_turned)(quadrants(), orientation))
    image = read_image(path)
    assert image.shape == ((40, 64, 3) if orientation <= 4 else (64, 40, 3))  # 5 to 8 turn by 90 degrees
    assert np.array_equal(image, cv2.imread(str(path), cv2.IMREAD_COLOR))


def test_an_image_is_read_from_disk_once(tmp_path):
    io = Path("/proc/self/io")
    if not io.exists():
        pytest.skip("no /proc/self/io to count the bytes read")
    path = tmp_path / "noise.png"  # noise does not compress: the file is about as large as its pixels
    path.write_bytes(cv2.imencode(".png", np.random.default_rng(0).integers(0, 256, (800, 800, 3), np.uint8))[1])

    def bytes_read() -> int:
        return int(next(line for line in io.read_text().splitlines() if line.startswith("rchar:")).split()[1])

    before = bytes_read()
    read_image(path)
    assert bytes_read() - before < 1.5 * path.stat().st_size


def test_an_empty_file_is_undecodable(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match="cannot decode image"):
        read_image(path)


def test_the_bench_clip_maker_reads_stills_the_same_way(tmp_path):
    """make_pose_clip (bench preview, the tree-clip tests) goes through read_image: a cut-short JPEG is refused
    by name rather than turned into a clip of libjpeg's grey filler."""
    from edgeapp.bench.preview import make_pose_clip

    photo = tmp_path / "cut.jpg"
    photo.write_bytes(jpeg_turned(quadrants(), 1)[:-40])
    with pytest.raises(SourceError, match=r"cut\.jpg is cut short"):
        make_pose_clip(photo, tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()
