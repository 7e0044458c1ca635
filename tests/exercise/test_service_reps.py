"""The service with ``tasks.reps`` against a real mosquitto: rep events through the outbox, Home
Assistant discovery of the counter, and the commands that switch the exercise and reset the count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeapp.bench.mqtt import LocalMosquitto
from support.config import write_config
from support.shared import MODELS, VIDEO

SQUATS = VIDEO / "exercise" / "squats_band.mp4"
WAIT_S = 90.0  # a generous bound for a few loops of a 13 s clip processed faster than real time


@pytest.fixture
def broker(tmp_path: Path):
    b = LocalMosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


class Log:
    """Everything the broker carries, as mosquitto_sub -v sees it."""

    def __init__(self, port: int, path: Path):
        self.path = path
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "#", "-v"],
                                     stdout=path.open("w"), stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def messages(self) -> list[tuple[str, str]]:
        return [tuple(line.split(" ", 1)) for line in self.path.read_text().splitlines() if " " in line]

    def reps(self) -> list[dict]:
        return [json.loads(p) for t, p in self.messages() if t.endswith("/events/rep")]

    def wait_for(self, predicate, what: str):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; got {self.messages()[-10:]}")

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def config(tmp_path: Path, port: int, **source) -> Path:
    return write_config(
        tmp_path / "config.toml",
        source={"uri": str(SQUATS), **source},
        tasks={"pose": True, "reps": True},
        runtime={"models_dir": str(MODELS), "threads": 2, "backend": "cpu"},
        reps={"exercise": "squat"},
        mqtt={"host": "127.0.0.1", "port": port, "device_id": "gym", "discovery": True,
              "outbox_path": str(tmp_path / "outbox.sqlite3")},
    )


def test_the_clip_publishes_two_reps_and_the_set_end(tmp_path, broker):
    log = Log(broker.port, tmp_path / "sub.txt")
    r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(config(tmp_path, broker.port))],
                       capture_output=True, text=True, timeout=300)
    time.sleep(0.5)
    log.close()
    assert r.returncode == 0, r.stderr
    reps = log.reps()
    assert [(e["type"], e["count"], e["set_reps"]) for e in reps] == [("rep", 1, 1), ("rep", 2, 2),
                                                                       ("set_ended", 2, 2)]
    for e in reps[:2]:
        assert e["exercise"] == "squat" and e["units"] == "deg" and e["depth"] <= 120 and e["duration_s"] > 0.5
    assert reps[2]["reason"] == "finished"
    discovery = [json.loads(p) for t, p in log.messages() if t == "homeassistant/device/edgeapp_gym/config"]
    components = discovery[-1]["cmps"]  # re-sent as the service registers its commands
    counter = components["edgeapp_gym_reps"]
    assert counter["stat_t"] == "edgeapp/gym/events/rep" and counter["stat_cla"] == "total_increasing"
    assert components["edgeapp_gym_exercise"]["p"] == "text"
    assert components["edgeapp_gym_reps_reset"]["p"] == "button"


def test_commands_switch_the_exercise_and_reset_the_count(tmp_path, broker):
    log = Log(broker.port, tmp_path / "sub.txt")
    proc = subprocess.Popen([sys.executable, "-m", "edgeapp", "run", "--config",
                             str(config(tmp_path, broker.port, loop=True))],
                            env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def send(feature: str, payload: str) -> None:
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                        "-t", f"edgeapp/gym/{feature}/set", "-m", payload], check=True)

    def state(lg: Log) -> str | None:
        states = [p for t, p in lg.messages() if t == "edgeapp/gym/exercise/state"]
        return states[-1] if states else None

    try:
        log.wait_for(lambda lg: any(e["type"] == "rep" for e in lg.reps()), "a first rep")
        assert state(log) == "squat"
        send("exercise", "pushup")
        log.wait_for(lambda lg: state(lg) == "pushup", "the exercise state to follow the command")
        log.wait_for(lambda lg: any(e.get("reason") == "reset" for e in lg.reps()), "the reset's set_ended")
        reset = next(e for e in log.reps() if e.get("reason") == "reset")
        assert reset["exercise"] == "squat" and reset["count"] >= 1
        seen = len(log.reps())
        send("exercise", '"squat"')  # JSON works too; the same name restarts the count
        log.wait_for(lambda lg: state(lg) == "squat", "the switch back")
        # The clip plays on while the commands go: the push-up counter (an elbow angle, on a squat clip) may count
        # a rep before the switch back is applied. What must hold: those are push-ups, and squats start at 1.
        def squat_rep(e: dict) -> bool:
            return e["type"] == "rep" and e["exercise"] == "squat"

        log.wait_for(lambda lg: any(squat_rep(e) for e in lg.reps()[seen:]), "a squat rep after the reset")
        after = log.reps()[seen:]
        first_after = next(i for i, e in enumerate(after) if squat_rep(e))
        assert after[first_after]["count"] == 1
        assert all(e["exercise"] == "pushup" for e in after[:first_after] if e["type"] == "rep"), after
        send("exercise", "plank")
        log.wait_for(lambda lg: any(t.endswith("/events/error") and "plank" in p for t, p in lg.messages()),
                     "the refusal of an unknown exercise")
        assert state(log) == "squat"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        time.sleep(0.5)
        log.close()
    assert proc.returncode == 0, err
    assert log.reps()[-1]["reason"] == "finished"


def test_with_people_followed_the_count_belongs_to_the_track_id(tmp_path):
    """With the detector on, poses are per tracked person (pose.people): the reps carry the track id."""
    cfg = write_config(tmp_path / "config.toml", source={"uri": str(SQUATS)}, tasks={"pose": True, "detect": True,
                       "reps": True}, runtime={"models_dir": str(MODELS), "threads": 2, "backend": "cpu"})
    r = subprocess.run([sys.executable, "-m", "edgeapp", "run", "--config", str(cfg), "--print-events"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    reps = [e for e in map(json.loads, r.stdout.splitlines()) if e["event"] == "rep"]
    assert [(e["type"], e["count"]) for e in reps] == [("rep", 1), ("rep", 2), ("set_ended", 2)]
    people = {e["person"] for e in reps}
    assert len(people) == 1 and isinstance(people.pop(), int)
