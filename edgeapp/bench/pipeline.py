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
from pathlib import Path

from edgeapp.bench import machine, print_table, show
from edgeapp.bench.cpu import ThreadCpu, process_cpu_seconds
from edgeapp.config import AppConfig
from edgeapp.mqtt.config import MqttConfig
from edgeapp.service.pipeline import Pipeline
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
    person = pipeline.stats.person_path.summary().mean_ms if len(pipeline.stats.person_path) else None
    extra = pipeline.stats.person_extra.summary().mean_ms if person else None  # the same persons, less their invokes
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
        # one person's pose path (crop + invoke + mapping back; the frame's people path shared evenly) and what of
        # it is not the invoke, as a share of that person's own invoke (not of every pose invoke: the single-pose
        # path's are not a person's)
        "person_path_ms": round(person, 3) if person else None,
        "person_extra_ms": round(extra, 3) if person else None,
        "person_overhead_pct": round(100 * extra / (person - extra), 1) if person and person > extra else None,
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
              f"{r['person_extra_ms']} ms: {r['person_overhead_pct']}% over its invoke")
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


def people_cost(reports: list[dict]) -> dict:
    """What each extra person costs a frame beyond the pose invoke it adds. From the fewest-people run
    to the most, the frame time grows by ``frame_ms_added``; the pose invokes added take
    ``pose_invoke_ms_added``. The rest of the frame (frame time minus every per-frame invoke, so a
    detector invoke that happens to run slower in one run does not count as a person's cost) grows by
    ``other_ms_added``: over the added invokes, that is ``pct_over_invokes``, the pipeline's overhead per
    added person. ``person_path_pct`` is the same overhead timed around each person's invoke (crop and
    mapping back), in the run with the most people."""
    a, b = min(reports, key=lambda r: r["people"] or 1), max(reports, key=lambda r: r["people"] or 1)

    def invokes_ms(r: dict, models=PER_FRAME_MODELS) -> float:
        return sum(r["invoke"][m]["mean_ms"] * r["invokes_per_frame"].get(m, 0.0) for m in models if m in r["invoke"])

    def frame_ms(r: dict) -> float:
        return 1000.0 / r["fps"]

    invoke_ms = invokes_ms(b, ("pose",)) - invokes_ms(a, ("pose",))
    other_ms = (frame_ms(b) - invokes_ms(b)) - (frame_ms(a) - invokes_ms(a))
    persons = b["invokes_per_frame"].get("pose", 0.0) - a["invokes_per_frame"].get("pose", 0.0)
    return {"from_people": a["people"], "to_people": b["people"], "persons_added": round(persons, 2),
            "frame_ms_added": round(frame_ms(b) - frame_ms(a), 2), "pose_invoke_ms_added": round(invoke_ms, 2),
            "other_ms_added": round(other_ms, 2),
            "pct_over_invokes": round(100 * other_ms / invoke_ms, 1) if invoke_ms > 0 else None,
            "person_path_pct": b.get("person_overhead_pct")}


def print_people_cost(reports: list[dict], as_json: bool = False) -> None:
    c = people_cost(reports)
    if as_json:
        import json

        print(json.dumps({"benchmark": "pipeline people cost", **c}))
        return
    print(f"\npeople {c['from_people']} -> {c['to_people']} ({c['persons_added']} pose invokes more per frame): "
          f"the frame takes {c['frame_ms_added']} ms more, of which the added pose invokes "
          f"{c['pose_invoke_ms_added']} ms and the rest {c['other_ms_added']} ms")
    print(f"overhead per added person: {c['pct_over_invokes']}% of the invoke it adds "
          f"(around each invoke alone, crop and mapping back: {c['person_path_pct']}%)")
