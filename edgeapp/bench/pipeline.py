"""``edgeapp bench pipeline``: the whole service path against the bare models.

End-to-end fps is frames over the frame loop's wall time, with decoding (capture
thread) and publishing (publisher threads, a real broker) overlapped. The bound it
is compared with is 1 / (sum of the mean invoke times of the models that run on
every frame), twice: with the invoke times measured in the run, which says how much
the pipeline adds between invokes; and with the same models invoked alone afterwards
on their last inputs ("bare"), which also counts what decoding, publishing and the
other threads take from the models when they share the CPU. Startup is measured to
the first event a separate subscriber receives.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, replace
from statistics import median
from pathlib import Path
from typing import Sequence

from edgeapp.bench import machine, print_table, show
from edgeapp.bench.cpu import ThreadCpu, process_cpu_seconds
from edgeapp.config import AppConfig
from edgeapp.mqtt.config import MqttConfig
from edgeapp.service.pipeline import FrameResult, Pipeline
from edgeapp.service.runner import build_sink
from edgeapp.settings import read

PER_FRAME_MODELS = ("pose", "detect")  # the classifier runs only on confident poses and costs ~0.1 ms
BARE_INVOKES = 200


class FirstEvent:
    """A paho subscriber on the events topic: when did the first event arrive?"""

    def __init__(self, mqtt: MqttConfig):
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.at: float | None = None
        self.count = 0
        self._ready = threading.Event()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="edgeapp-bench-sub")
        topic = f"{mqtt.topic_prefix}/{mqtt.device_id}/events/#"
        self.client.on_connect = lambda c, *_: (c.subscribe(topic, qos=1), self._ready.set())
        self.client.on_message = self._on_message
        self.client.connect(mqtt.host, mqtt.port)
        self.client.loop_start()
        self._ready.wait(5)

    def _on_message(self, *_):
        self.count += 1
        if self.at is None:
            self.at = time.monotonic()

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def bench_pipeline(config: AppConfig, frames: int = 300, broker_pid: int | None = None) -> dict:
    sub = FirstEvent(config.mqtt) if config.mqtt.enabled else None
    t0 = time.monotonic()
    sink = build_sink(config, print_events=False)
    pipeline = Pipeline(config, sink)
    built = time.monotonic()
    for s in sink.sinks:
        if hasattr(s, "stats_source"):
            s.stats_source = pipeline.stats_event
    first_frame: list[float] = []
    cpu = ThreadCpu().start()
    broker_cpu = process_cpu_seconds(broker_pid) if broker_pid else None
    loop_start = time.monotonic()
    n = pipeline.run(threading.Event(), max_frames=frames,
                     on_frame=lambda r: first_frame.append(time.monotonic()) if not first_frame else None)
    loop_s = time.monotonic() - loop_start
    cpu.stop()
    roles = cpu.by_role()
    if broker_cpu is not None:
        roles["broker (mosquitto)"] = (process_cpu_seconds(broker_pid) or broker_cpu) - broker_cpu
    pipeline.close()
    mqtt_stats = next((s.stats().as_dict() for s in sink.sinks if hasattr(s, "stats")), None)
    sink.close(10.0)
    if sub is not None:
        sub.close()
    invoke = {name: w.summary().as_dict() for name, w in pipeline.stats.invoke.items() if len(w)}
    processed = max(pipeline.stats.frames, 1)
    per_frame = {m: round(c / processed, 2) for m, c in pipeline.stats.invokes.items()}
    per_frame_ms = sum(invoke[m]["mean_ms"] * per_frame.get(m, 1.0) for m in PER_FRAME_MODELS if m in invoke)
    bound_fps = 1000.0 / per_frame_ms if per_frame_ms else None
    bare = {m: bare_invoke_ms(pipeline.models[m]) for m in PER_FRAME_MODELS if m in invoke}
    bare_fps = 1000.0 / sum(v * per_frame.get(m, 1.0) for m, v in bare.items()) if bare else None
    fps = n / loop_s if loop_s else 0.0
    return {
        "benchmark": "pipeline",
        "source": config.source.uri,
        "tasks": [t for t, on in vars(config.tasks).items() if on],
        "frames": n,
        "backend": pipeline.backend()[0],
        "threads": config.runtime.threads,
        "fps": round(fps, 1),
        "people": config.pose.people if pipeline.people is not None else None,
        "invoke": invoke,
        "invokes_per_frame": per_frame,
        **people_path(pipeline),
        "models_bound_fps": round(bound_fps, 1) if bound_fps else None,
        "fps_pct_of_bound": round(100 * fps / bound_fps, 1) if bound_fps else None,
        "bare_invoke_ms": {m: round(v, 2) for m, v in bare.items()},
        "bare_bound_fps": round(bare_fps, 1) if bare_fps else None,
        "fps_pct_of_bare_bound": round(100 * fps / bare_fps, 1) if bare_fps else None,
        "dropped_frames": pipeline.dropped_frames,
        "startup_s": {
            "build": round(built - t0, 3),
            "first_frame": round(first_frame[0] - t0, 3) if first_frame else None,
            "first_event_received": round(sub.at - t0, 3) if sub and sub.at else None,
        },
        "events_received": sub.count if sub else None,
        "mqtt": mqtt_stats,
        "cpu_ms_per_frame": {role: round(1000 * v / n, 2) for role, v in sorted(roles.items(), key=lambda kv: -kv[1])}
        if n else {},
        "cores_busy": round(sum(roles.values()) / loop_s, 2) if loop_s else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": machine(),
    }


def bare_invoke_ms(model, invokes: int = BARE_INVOKES) -> float:
    """Mean invoke time of a model on its last input with nothing else running (after a warm-up)."""
    for _ in range(5):
        model.invoke()
    total = 0.0
    for _ in range(invokes):
        total += model.invoke()
    return 1000.0 * total / invokes


def config_for(source: str, tasks: list[str], runtime: dict, broker: tuple[str, int] | None,
               workdir: Path, people: int = 1) -> AppConfig:
    """The service config the benchmark runs: ``runtime`` is the ``[runtime]`` table (the CLI's backend options)."""
    table = {t: (t in tasks) for t in ("pose", "classify", "detect", "track")}
    data: dict = {"source": {"uri": source}, "tasks": table, "pose": {"people": people}, "runtime": runtime}
    if broker:
        data["mqtt"] = {"host": broker[0], "port": broker[1], "device_id": "bench",
                        "outbox_path": str(workdir / "outbox.sqlite3"), "stats_interval": 15.0}
    return read(AppConfig, data)


def print_report(r: dict, as_json: bool = False) -> None:
    people = f", {r['people']} people" if r.get("people") else ""
    show(r, as_json, f"pipeline {'+'.join(r['tasks'])}{people} on {r['backend']} ({r['threads']} threads), "
                     f"{r['frames']} frames of {r['source']}", _table)


def _table(r: dict) -> None:
    rows = [(f"invoke {name}", f"{v['mean_ms']:.2f}", f"{v['p95_ms']:.2f}", f"{r['invokes_per_frame'].get(name, '')}")
            for name, v in r["invoke"].items()]
    print_table("", rows, ("stage", "mean ms", "p95 ms", "invokes / frame"))
    if r.get("person_path_ms") is not None:
        print(f"one person's pose (crop, invoke, mapping back): {r['person_path_ms']} ms, of which not the invoke "
              f"{r['person_extra_ms']} ms: {r['person_path_pct']}% over its invoke")
    print(f"end-to-end: {r['fps']} fps; bound by the models' invoke times: {r['models_bound_fps']} fps "
          f"-> {r['fps_pct_of_bound']}% of the bound; dropped frames {r['dropped_frames']}")
    bare = ", ".join(f"{m} {v:.2f} ms" for m, v in r["bare_invoke_ms"].items())
    print(f"the same models invoked alone after the run ({bare}): {r['bare_bound_fps']} fps "
          f"-> {r['fps_pct_of_bare_bound']}% of that")
    s = r["startup_s"]
    print(f"startup: models and publisher built in {s['build']} s, first frame at {s['first_frame']} s, "
          f"first event at the broker at {s['first_event_received']} s")
    print(f"peak RSS: {r['peak_rss_mb']} MB; events received by a subscriber: {r['events_received']}")
    if r["cpu_ms_per_frame"]:
        rows = [(role, f"{v:.2f}") for role, v in r["cpu_ms_per_frame"].items()]
        print_table(f"\nCPU per frame during the run ({r['cores_busy']} of {r['machine']['cores']} cores busy)", rows,
                    ("thread", "CPU ms / frame"))


PEOPLE_CHUNK = 10  # frames a people count holds in turn in the interleaved run
PEOPLE_WARMUP = 10  # frames left out at the start (first crops from boxes, caches, the broker connecting)


@dataclass(frozen=True)
class FrameCost:
    """One frame of the interleaved run, as the frame loop paid for it."""

    cap: int  # the people count its crops were planned with
    steady: bool  # the frame before had the same count (so the interval holds no switch)
    interval_s: float  # the frame loop's turn on it: from taking it up to taking up the next
    pose_s: float  # its pose invokes
    other_invokes_s: float  # its other models' invokes
    pose_invokes: int


def bench_people(config: AppConfig, counts: Sequence[int], frames: int, chunk: int = PEOPLE_CHUNK) -> dict:
    """What each added person costs a frame beyond the invoke they add, from ONE run whose people count
    takes each of ``counts`` in turn, ``chunk`` frames at a time. Two separate runs cannot tell this: the
    host's speed drifts by more between them than a person adds beyond their invoke; taking turns within
    a run makes the drift fall on every count alike."""
    config = replace(config, pose=replace(config.pose, people=max(counts)))
    sink = build_sink(config, print_events=False)
    pipeline = Pipeline(config, sink)
    people = pipeline.people
    if people is None:
        raise ValueError("the people counts need the detector: add detect to the tasks")
    people.n = counts[0]
    caps: list[int] = []  # the count in force after each frame was done
    last: list[FrameResult] = []
    costs: list[FrameCost] = []

    def on_frame(result: FrameResult) -> None:
        j = len(caps)
        # frame j-1's turn of the frame loop ended when it took frame j up; frame j-1 was planned by the
        # finishing worker after frame j-2 (before this callback of j-2 ran)
        if j >= max(PEOPLE_WARMUP, 4):
            before = last[0]
            pose = before.invoke_s.get("pose", ())
            costs.append(FrameCost(
                cap=caps[j - 3], steady=caps[j - 4] == caps[j - 3], interval_s=result.began - before.began,
                pose_s=sum(pose), pose_invokes=len(pose),
                other_invokes_s=sum(sum(v) for k, v in before.invoke_s.items() if k != "pose")))
        last[:] = [result]
        people.n = counts[(j // chunk) % len(counts)]
        caps.append(people.n)

    try:
        pipeline.run(threading.Event(), max_frames=frames, on_frame=on_frame)
    finally:
        pipeline.close()
        sink.close(10.0)
    return {**people_cost(costs), "chunk_frames": chunk, "source": config.source.uri, "machine": machine()}


def people_path(pipeline: Pipeline) -> dict:
    """One person's pose path (crop, invoke, mapping back; the frame's people path shared evenly) and what of
    it is not the invoke, as a share of that person's own invoke (not of every pose invoke: the single-pose
    path's are not a person's)."""
    stats = pipeline.stats
    if not len(stats.person_path):
        return {"person_path_ms": None, "person_extra_ms": None, "person_path_pct": None}
    path, extra = stats.person_path.summary().mean_ms, stats.person_extra.summary().mean_ms
    return {"person_path_ms": round(path, 3), "person_extra_ms": round(extra, 3),
            "person_path_pct": round(100 * extra / (path - extra), 1) if path > extra else None}


def people_cost(frames: Sequence[FrameCost]) -> dict:
    """From the frames of each people count (those with a switch in their interval left out): the frame
    time beyond every invoke (``other``) grows from the fewest people to the most by ``other_ms_added``;
    over the pose invoke time added, that is ``pct_over_invokes``, the overhead per added person. Both, and
    the invokes per frame, are medians over frames; fps is from the mean frame time. The detector's invoke
    is left out of ``other``: it is as long as the pose path and varies by more than a person's overhead."""
    by_cap: dict[int, list[FrameCost]] = {}
    for f in frames:
        if f.steady:
            by_cap.setdefault(f.cap, []).append(f)
    if len(by_cap) < 2:
        raise ValueError("the run gave steady frames for fewer than two people counts: run more frames")

    per_cap = {}
    for cap, fs in sorted(by_cap.items()):
        frame_ms = 1000.0 * sum(f.interval_s for f in fs) / len(fs)
        per_cap[cap] = {"frames": len(fs), "fps": round(1000.0 / frame_ms, 1), "frame_ms": round(frame_ms, 2),
                        "pose_invokes_per_frame": float(median(f.pose_invokes for f in fs)),
                        # medians: a frame the host took the CPU from says nothing of what a person costs
                        "pose_invoke_ms": round(1000.0 * median(f.pose_s for f in fs), 3),
                        "detect_invoke_ms": round(1000.0 * median(f.other_invokes_s for f in fs), 3),
                        "other_ms": round(1000.0 * median(f.interval_s - f.pose_s - f.other_invokes_s for f in fs), 3)}
    a, b = per_cap[min(per_cap)], per_cap[max(per_cap)]
    invoke_ms = b["pose_invoke_ms"] - a["pose_invoke_ms"]
    other_ms = b["other_ms"] - a["other_ms"]
    return {"from_people": min(per_cap), "to_people": max(per_cap), "per_count": per_cap,
            "persons_added": round(b["pose_invokes_per_frame"] - a["pose_invokes_per_frame"], 2),
            "frame_ms_added": round(b["frame_ms"] - a["frame_ms"], 2), "pose_invoke_ms_added": round(invoke_ms, 2),
            "other_ms_added": round(other_ms, 3),
            "pct_over_invokes": round(100 * other_ms / invoke_ms, 1) if invoke_ms > 0 else None}


def print_people_cost(c: dict, as_json: bool = False) -> None:
    show({"benchmark": "pipeline people cost", **c}, as_json,
         f"\npeople counts in turn, {c['chunk_frames']} frames each, in one run of {c['source']}", _people_table)


def _people_table(c: dict) -> None:
    rows = [(str(cap), str(v["frames"]), f"{v['fps']}", f"{v['pose_invokes_per_frame']}", f"{v['pose_invoke_ms']:.2f}",
             f"{v['detect_invoke_ms']:.2f}", f"{v['other_ms']:.2f}") for cap, v in c["per_count"].items()]
    print_table("", rows, ("people", "frames", "fps", "pose invokes / frame", "pose invokes ms", "detect invoke ms",
                           "frame beyond invokes ms"))
    print(f"people {c['from_people']} -> {c['to_people']} ({c['persons_added']} pose invokes more per frame): "
          f"the frame takes {c['frame_ms_added']} ms more, of which the added pose invokes "
          f"{c['pose_invoke_ms_added']} ms and the rest {c['other_ms_added']} ms")
    print(f"overhead per added person: {c['pct_over_invokes']}% of the invoke it adds")
