"""``edgeapp bench mqtt`` runs end to end; its figures are printed, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_mqtt_starts_its_own_broker_and_reports(tmp_path):
    out = subprocess.run([sys.executable, "-m", "edgeapp", "bench", "mqtt", "--events", "300", "--json"],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    report = json.loads(out)
    assert report["all_acknowledged"] and report["received_by_subscriber"] == 300
    assert report["outbox_left"] == 0 and report["events_per_s"] > 0
    assert set(report["handoff_us"]) == {"n", "p50", "p95", "p99", "max"}


def test_bench_mqtt_against_a_given_broker(broker):
    out = subprocess.run([sys.executable, "-m", "edgeapp", "bench", "mqtt", "--port", str(broker.port),
                          "--events", "100", "--json"], check=True, capture_output=True, text=True, timeout=120).stdout
    report = json.loads(out)
    assert report["broker"].endswith(f":{broker.port}")
    assert report["all_acknowledged"] and report["received_by_subscriber"] == 100
