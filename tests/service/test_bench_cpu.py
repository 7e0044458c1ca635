"""CPU per thread for the pipeline benchmark: parsing /proc and attributing threads to roles."""

from __future__ import annotations

import hashlib
import sys
import threading
import time

import pytest

from edgeapp.bench.cpu import NATIVE, ThreadCpu, cpu_seconds, role_of

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_stat_lines_with_spaces_and_parens_in_the_name():
    fields = ["S"] + ["0"] * 10 + ["250", "50"] + ["0"] * 30
    line = "1234 (a (weird) name) " + " ".join(fields)
    assert cpu_seconds(line) == pytest.approx(300 / 100)  # utime + stime in clock ticks (100 per second)


def test_roles_come_from_thread_names_and_unnamed_threads_are_the_models():
    assert role_of("capture") == "capture (decode, detector input)"
    assert role_of("mqtt-store-dev1") == role_of("paho-mqtt-client-dev1") == "mqtt publisher"
    assert role_of("paho-mqtt-client-edgeapp-bench-sub") == "benchmark's subscriber"
    assert role_of(None) == NATIVE


def test_a_busy_thread_is_counted_under_its_role_even_after_it_ended():
    block = bytes(1 << 20)

    def spin():  # hashing releases the GIL, as decoding and invokes do, so the sampler keeps sampling
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            hashlib.sha256(block).digest()

    cpu = ThreadCpu(interval=0.02).start()
    worker = threading.Thread(target=spin, name="finish")
    worker.start()
    worker.join()
    time.sleep(0.05)
    cpu.stop()
    used = cpu.by_role()
    assert 0.2 <= used["finishing worker"] <= 0.5
    assert used.get("frame loop (and model work on it)", 0.0) < 0.2  # the main thread only waited
