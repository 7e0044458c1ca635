"""``edgeapp bench preview``: the pipeline's fps with and without a connected preview viewer.

The service's own pipeline (pose + classify) runs on a looping clip in this process
with the preview server on a free loopback port. Phases alternate (no viewer,
viewer, no viewer, viewer, ...) so a machine warming up or slowing down shows in
both columns rather than in one. A viewer is a client reading ``/stream.mjpg`` as a
browser would; its received frame rate is reported too.

``make_pose_clip`` (a short clip with slight motion from a still image) is shared with the tests.
"""

from __future__ import annotations

import http.client
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edgeapp.bench import machine, print_table, show
from edgeapp.camera.files import read_image
from edgeapp.config import AppConfig, PoseConfig, RuntimeConfig, SourceConfig, TasksConfig
from edgeapp.errors import EdgeappError
from edgeapp.preview.config import PreviewConfig


def make_pose_clip(image_path: Path, out: Path, frames: int = 30, fps: float = 15.0, shift_px: int = 6) -> Path:
    """An ``mp4v`` clip of ``image_path`` drifting sideways by up to ``shift_px`` pixels (frames differ,
    the pose stays). Sizes are rounded down to even numbers, as the codec wants."""
    image = read_image(Path(image_path))  # turned by its EXIF orientation, as infer and the service read it
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    image = image[:h, :w]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise EdgeappError(f"cannot write {out} with the mp4v codec")
    try:
        for i in range(frames):
            dx = shift_px * np.sin(2 * np.pi * i / frames)
            m = np.float32([[1, 0, dx], [0, 1, 0]])
            writer.write(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    finally:
        writer.release()
    return out


class MjpegViewer(threading.Thread):
    """Reads ``/stream.mjpg`` like a browser: whole parts, as fast as they come; counts them."""

    def __init__(self, host: str, port: int, token: str = ""):
        super().__init__(name="mjpeg-viewer", daemon=True)
        self.host, self.port, self.token = host, port, token
        self.frames = 0
        self.bytes = 0
        self.error: Exception | None = None
        self._closing = threading.Event()
        self._conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        try:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
            path = "/stream.mjpg" + (f"?token={self.token}" if self.token else "")
            self._conn.request("GET", path)
            r = self._conn.getresponse()
            if r.status != 200:
                raise EdgeappError(f"/stream.mjpg answered {r.status}")
            while not self._closing.is_set():
                line = r.readline()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    n = int(line.split(b":", 1)[1])
                    r.readline()  # the blank line ending the part's headers
                    self.bytes += len(r.read(n))
                    self.frames += 1
        except Exception as exc:  # reported by the caller
            if not self._closing.is_set():
                self.error = exc

    def close(self) -> None:
        self._closing.set()
        sock = self._conn.sock if self._conn is not None else None
        if sock is not None:
            try:  # shutdown, not close: the response's file object still holds the socket open
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.join(5)


def bench_preview(clip: Path, models_dir: str = "", seconds: float = 5.0, rounds: int = 2, threads: int = 2,
                  max_fps: float = 10.0, warmup_s: float = 3.0) -> dict:
    from edgeapp.preview.server import PreviewServer
    from edgeapp.service.pipeline import Pipeline

    class Discard:
        def publish(self, event) -> bool:
            return True

    config = AppConfig(source=SourceConfig(uri=str(clip), loop=True), tasks=TasksConfig(pose=True, classify=True),
                       runtime=RuntimeConfig(threads=threads, models_dir=models_dir), pose=PoseConfig(),
                       preview=PreviewConfig(enabled=True, port=0, max_fps=max_fps))
    pipeline = Pipeline(config, Discard())
    stop = threading.Event()
    loop = threading.Thread(target=pipeline.run, args=(stop,), name="frame-loop", daemon=True)
    server = PreviewServer(config.preview, pipeline).start()
    phases: list[dict] = []
    try:
        loop.start()
        time.sleep(warmup_s)
        for _ in range(rounds):
            for viewer_on in (False, True):
                phases.append(_phase(pipeline, server, seconds, viewer_on))
    finally:
        stop.set()
        loop.join(10)
        server.stop()
        pipeline.close()
    # Medians: on a shared machine one disturbed phase should not decide the comparison.
    off = float(np.median([p["fps"] for p in phases if not p["viewer"]]))
    on = float(np.median([p["fps"] for p in phases if p["viewer"]]))
    render_ms = [p["render_ms_per_frame"] for p in phases if p["render_ms_per_frame"]]
    return {
        "machine": machine(), "clip": str(clip), "backend": pipeline.backend()[0], "threads": threads,
        "max_fps": max_fps, "seconds_per_phase": seconds, "phases": phases,
        "fps_without_viewer": round(off, 2), "fps_with_viewer": round(on, 2),
        "change_pct": round(100.0 * (on - off) / off, 1) if off else None,
        "render_ms_per_frame": round(float(np.median(render_ms)), 2) if render_ms else None,
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def _phase(pipeline, server, seconds: float, viewer_on: bool) -> dict:
    viewer = MjpegViewer("127.0.0.1", server.port, server.token) if viewer_on else None
    if viewer is not None:
        viewer.start()
        time.sleep(0.5)  # connected and streaming before the window opens
    frames0, rendered0, cpu0 = pipeline.stats.frames, server.frames_rendered, server.render_cpu_s
    received0 = viewer.frames if viewer else 0
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    frames, rendered = pipeline.stats.frames - frames0, server.frames_rendered - rendered0
    cpu = server.render_cpu_s - cpu0
    received = (viewer.frames - received0) if viewer else 0
    if viewer is not None:
        viewer.close()
        if viewer.error is not None:
            raise EdgeappError(f"the viewer failed: {viewer.error}")
        time.sleep(0.3)  # the server notices the viewer left before the next phase
    return {"viewer": viewer_on, "fps": round(frames / elapsed, 2), "frames": frames,
            "preview_fps": round(rendered / elapsed, 2), "received_fps": round(received / elapsed, 2),
            "render_ms_per_frame": round(1000 * cpu / rendered, 2) if rendered else None,
            "render_cpu_pct": round(100 * cpu / elapsed, 2)}


def default_clip(workdir: Path) -> Path:
    """The tree pose (it classifies as ``tree``) as a clip, from the shared data or the checkout's."""
    roots = [Path(os.environ["EDGEAPP_SHARED_DATA"])] if os.environ.get("EDGEAPP_SHARED_DATA") else []
    for root in (*roots, Path(__file__).resolve().parents[2].parent / "shared" / "data"):
        image = root / "images" / "tfex_pose_image3_tree.jpeg"
        if image.is_file():
            return make_pose_clip(image, workdir / "tree.mp4")
    raise EdgeappError("no clip given and the shared tree image was not found: pass --clip")


def print_report(r: dict, as_json: bool = False) -> None:
    show(r, as_json, f"preview cost: backend {r['backend']}, {r['threads']} threads, preview capped at "
                     f"{r['max_fps']} fps", _table)


def _table(r: dict) -> None:
    rows = [("with" if p["viewer"] else "without", p["fps"], p["frames"], p["preview_fps"], p["received_fps"],
             p["render_ms_per_frame"] or "-", p["render_cpu_pct"])
            for p in r["phases"]]
    print_table(f"{r['seconds_per_phase']:.0f} s phases, alternating", rows,
                ("viewer", "pipeline fps", "frames", "preview fps drawn", "viewer fps received",
                 "render ms/frame", "render CPU %"))
    print(f"median pipeline fps without a viewer {r['fps_without_viewer']}, with one {r['fps_with_viewer']} "
          f"({r['change_pct']:+.1f} %); drawing + encoding {r['render_ms_per_frame']} ms CPU a frame; "
          f"load average {r['load_average']}")


def with_clip(clip: str | None, run) -> dict:
    """Runs ``run(clip_path)`` with the given clip or a temporary one made from the tree image."""
    if clip:
        return run(Path(clip))
    with tempfile.TemporaryDirectory() as tmp:
        return run(default_clip(Path(tmp)))


