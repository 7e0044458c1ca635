"""Delivery against a real mosquitto: every event type, availability and the Last Will,
a broker restart, kill -9 of the publishing process, the outbox bound."""

from __future__ import annotations

import logging
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgeapp.bench.mqtt import free_port
from edgeapp.events import EVENT_TYPES, DetectionEvent, TrackingEvent
from edgeapp.mqtt import Outbox, Publisher

from .conftest import WAIT_S, assert_in_order_none_missing
from .samples import one_of_each

DRIVER = Path(__file__).with_name("driver.py")


def test_every_event_type_round_trips_on_its_documented_topic(broker, make_config, publishers, recorders):
    rec = recorders(broker.port, "edgeapp/dev1/#")
    pub = publishers(make_config(broker.port))
    assert pub.wait_connected(WAIT_S)  # so that the stats event says connected
    sent = one_of_each()
    for event in sent:
        assert pub.publish(event)
    rec.wait_for(lambda r: len(r.events()) == len(sent), what="every event")
    got = rec.events()
    assert [r.seq for r in got] == list(range(1, len(sent) + 1))
    assert {r.device for r in got} == {"dev1"}
    for received, event in zip(got, sent):
        assert received.event.kind == event.kind
        if event.kind != "stats":  # the publisher fills in its own mqtt section
            assert received.event == event
    topics = {m.topic for m in rec.messages if "/events/" in m.topic}
    assert topics == {f"edgeapp/dev1/events/{kind}" for kind in EVENT_TYPES}
    stats = next(r.event for r in got if r.event.kind == "stats")
    assert stats.mqtt["connected"] is True and "outbox_dropped" in stats.mqtt


def test_two_publishers_in_one_process_keep_their_own_seq(broker, make_config, publishers, recorders):
    rec = recorders(broker.port, "edgeapp/+/events/#")
    a, b = publishers(make_config(broker.port, "a")), publishers(make_config(broker.port, "b"))
    for i in range(20):
        a.publish(TrackingEvent(type="angles", pan=float(i), tilt=0.0))
        b.publish(TrackingEvent(type="angles", pan=float(i), tilt=1.0))
    rec.wait_for(lambda r: len(r.events()) == 40, what="both publishers' events")
    for device in ("a", "b"):
        assert [r.seq for r in rec.events() if r.device == device] == list(range(1, 21))


def test_available_is_retained_online_and_stopped_on_a_clean_close(broker, make_config, publishers, recorders):
    witness = recorders(broker.port, "edgeapp/dev1/available", client_id="witness")
    pub = publishers(make_config(broker.port))
    assert pub.wait_connected(WAIT_S)
    # Connected is the CONNACK; `online` goes out right after it. A subscriber that came in between got it live
    # (retain flag 0: a clean-clone run did): wait until the broker has passed it on before coming late.
    witness.wait_for(lambda r: any(m.text == "online" for m in r.on("edgeapp/dev1/available")), what="online")
    late = recorders(broker.port, "edgeapp/dev1/available", client_id="late")  # subscribes after the fact
    late.wait_for(lambda r: r.on("edgeapp/dev1/available"), what="retained availability")
    first = late.on("edgeapp/dev1/available")[0]
    assert (first.text, first.retain) == ("online", True)
    pub.close(drain_timeout=1)
    late.wait_for(lambda r: r.on("edgeapp/dev1/available")[-1].text == "stopped", what="stopped")


def test_broker_away_for_seconds_then_back_every_seq_arrives_in_order(broker, make_config, publishers, recorders):
    # The collector's session is persistent, as a real one's must be: otherwise what the broker
    # accepted while the collector itself was reconnecting is lost for it, whatever we do.
    rec = recorders(broker.port, "edgeapp/dev1/events/#", persistent=True, client_id="collector")
    pub = publishers(make_config(broker.port))
    stop = threading.Event()

    def frame_loop():
        i = 0
        while not stop.is_set():
            pub.publish(TrackingEvent(type="angles", pan=float(i), tilt=0.0))
            i += 1
            stop.wait(0.005)

    producer = threading.Thread(target=frame_loop)
    producer.start()
    try:
        rec.wait_for(lambda r: len(r.messages) >= 50, what="traffic before the outage")
        broker.stop()
        outage_started = pub.stats().last_seq
        time.sleep(3)  # the outage itself, not an assertion: events keep coming meanwhile
        assert not pub.stats().connected and pub.stats().outbox_depth > 0
        broker.start()
        assert pub.wait_connected(WAIT_S)
        rec.wait_for(lambda r: len(set(r.seqs())) > outage_started + 100, what="traffic after the outage")
    finally:
        stop.set()
        producer.join()
    assert pub.drain(WAIT_S)
    last = pub.stats().last_seq
    rec.wait_for(lambda r: last in r.seqs(), what=f"seq {last}")
    repeats = assert_in_order_none_missing(rec.seqs(), 1, last)
    assert pub.stats().outbox_depth == 0 and pub.stats().handoff_dropped == 0
    print(f"{last} events across a 3 s outage, {repeats} repeats")


def start_driver(port: int, outbox: Path, run: str, count: int, interval: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), "--port", str(port), "--outbox", str(outbox), "--device", "killme",
         "--run", run, "--count", str(count), "--interval", str(interval)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def read_line(proc: subprocess.Popen, word: str) -> int:
    line = proc.stdout.readline()
    assert line.startswith(word), f"driver said {line!r}, expected {word}"
    return int(line.split()[1])


def test_kill_9_mid_run_then_restart_delivers_the_outbox_and_seq_continues(broker, recorders, tmp_path):
    rec = recorders(broker.port, "edgeapp/killme/#")
    outbox = tmp_path / "killme.sqlite3"

    def by_run(run):
        return [r for r in rec.events() if r.event.target == run]

    # 1: killed while publishing to a live broker.
    first = start_driver(broker.port, outbox, "first", count=100_000, interval=0.002)
    assert read_line(first, "started") == 0
    rec.wait_for(lambda r: len(by_run("first")) >= 200, what="the first run's events")
    first.send_signal(signal.SIGKILL)
    first.wait()
    # An unclean end: the broker says our Last Will.
    rec.wait_for(lambda r: r.on("edgeapp/killme/available")[-1:] and
                 r.on("edgeapp/killme/available")[-1].text == "offline", what="the Last Will")
    late = recorders(broker.port, "edgeapp/killme/available", client_id="late")  # live copies lose the flag
    late.wait_for(lambda r: r.messages, what="the retained Will")
    assert (late.messages[0].text, late.messages[0].retain) == ("offline", True)

    # 2: the broker is unreachable; events only reach the outbox, then kill -9 again.
    second = start_driver(free_port(), outbox, "second", count=30)
    after_first = read_line(second, "started")
    assert after_first >= 200
    assert read_line(second, "stored") == after_first + 30
    second.send_signal(signal.SIGKILL)
    second.wait()

    # 3: back on the live broker: everything stored before is delivered, then the new events.
    third = start_driver(broker.port, outbox, "third", count=50)
    assert read_line(third, "started") == after_first + 30
    last = read_line(third, "stored")
    assert last == after_first + 80
    rec.wait_for(lambda r: last in r.seqs(), what=f"seq {last}")
    third.kill()
    third.wait()

    assert_in_order_none_missing(rec.seqs(), 1, last)
    identity = {}
    for r in rec.events():  # a repeated seq is the same event; no seq names two events
        assert identity.setdefault(r.seq, (r.event.target, r.event.pan)) == (r.event.target, r.event.pan)
    assert sorted(pan for run, pan in identity.values() if run == "second") == [float(i) for i in range(30)]
    assert sorted(pan for run, pan in identity.values() if run == "third") == [float(i) for i in range(50)]
    assert max(s for s, (run, _) in identity.items() if run == "first") == after_first
    said = [m.text for m in rec.on("edgeapp/killme/available")]
    assert said[:3] == ["online", "offline", "online"]  # the restart said online again


def test_outbox_bound_drops_the_oldest_counts_and_reports_them(broker, make_config, publishers, recorders):
    rec = recorders(broker.port, "edgeapp/dev1/events/#", persistent=True, client_id="collector")
    broker.stop()  # away for longer than 10 rows allow
    pub = publishers(make_config(broker.port, outbox_max_rows=10))
    for i in range(25):
        assert pub.publish(TrackingEvent(type="angles", pan=float(i), tilt=0.0))
    assert pub.flush(WAIT_S)
    s = pub.stats()
    assert (s.outbox_depth, s.outbox_dropped, s.last_seq, s.connected) == (10, 15, 25, False)
    broker.start()
    assert pub.wait_connected(WAIT_S)
    # Emptied first: a stats event added while the outbox is still full would push out one more.
    assert pub.drain(WAIT_S)
    assert pub.publish_stats()
    rec.wait_for(lambda r: 26 in r.seqs(), what="the stats event")
    assert rec.seqs() == list(range(16, 27))  # the 15 oldest were dropped, the rest kept in order
    stats = rec.events("stats")[0].event
    assert stats.mqtt["outbox_dropped"] == 15
    assert [r.event.pan for r in rec.events("tracking")] == [float(i) for i in range(15, 25)]


def test_a_full_handoff_queue_returns_at_once_and_is_counted(tmp_path, make_config):
    pub = Publisher(make_config(free_port(), handoff_queue=5))  # not started: nothing drains the queue
    t0 = time.perf_counter()
    taken = [pub.publish(TrackingEvent(type="angles", pan=0.0, tilt=0.0)) for _ in range(12)]
    assert time.perf_counter() - t0 < 0.5
    assert taken == [True] * 5 + [False] * 7
    assert pub.stats().handoff_dropped == 7
    pub.close()


def test_an_event_that_cannot_be_json_becomes_an_error_event_and_takes_no_seq(broker, make_config, publishers,
                                                                              recorders):
    rec = recorders(broker.port, "edgeapp/dev1/events/#")
    pub = publishers(make_config(broker.port))
    assert pub.publish(DetectionEvent(type="new", after={"id": "a", "label": "cat", "score": math.nan}))
    assert pub.publish(TrackingEvent(type="angles", pan=1.0, tilt=0.0))
    rec.wait_for(lambda r: len(r.events()) == 2, what="the good event and the error")
    kinds = sorted(r.event.kind for r in rec.events())
    assert kinds == ["error", "tracking"] and sorted(rec.seqs()) == [1, 2]
    error = rec.events("error")[0].event
    assert error.source == "publisher" and "detection event could not be encoded" in error.message
    assert pub.stats().encode_errors == 1
    with pytest.raises(TypeError, match="edgeapp.events.Event"):
        pub.publish({"not": "an event"})


def test_a_burst_of_events_is_one_transaction_and_a_flush_cuts_the_linger_short(broker, make_config, publishers):
    """One fsync per linger window, not one per event: the SD card and the models' CPU both gain."""
    pub = publishers(make_config(broker.port), store_linger_s=30.0)
    appended: list[int] = []
    append = pub.outbox.append
    pub.outbox.append = lambda drafts: (appended.append(len(drafts)), append(drafts))[1]
    for i in range(50):
        assert pub.publish(TrackingEvent(type="angles", pan=float(i), tilt=0.0))
    start = time.monotonic()
    assert pub.flush(WAIT_S)  # within WAIT_S, not after the 30 s linger
    assert time.monotonic() - start < WAIT_S
    assert appended == [50]


def test_a_clean_close_logs_no_error(broker, make_config, publishers, caplog):
    """journald on every service stop must not say ERROR (paho 2.2 logs one after a clean disconnect)."""
    pub = publishers(make_config(broker.port))
    assert pub.wait_connected(WAIT_S)
    pub.publish(TrackingEvent(type="angles", pan=0.0, tilt=0.0))
    with caplog.at_level(logging.INFO):
        pub.close(WAIT_S)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_a_publisher_in_a_with_block_closes_once(broker, make_config, recorders):
    rec = recorders(broker.port, "edgeapp/dev1/#")
    with Publisher(make_config(broker.port)) as pub:
        assert pub.wait_connected(WAIT_S)
        pub.publish(TrackingEvent(type="angles", pan=1.0, tilt=0.0))
    rec.wait_for(lambda r: r.on("edgeapp/dev1/available") and r.on("edgeapp/dev1/available")[-1].text == "stopped",
                 what="stopped")
    assert [m for m in rec.messages if "/events/" in m.topic]  # drained before it stopped
    pub.close()  # again: nothing left to do, and no error
    again = Outbox(pub.outbox.path, 1000, 1 << 20)  # the outbox's lock went with the first close
    again.close()
    again.close()
