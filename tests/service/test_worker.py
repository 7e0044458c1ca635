"""The finishing worker: order, a bounded hand-off, and errors that reach the producer."""

from __future__ import annotations

import threading
import time

import pytest

from edgeapp.service.worker import Worker


def test_items_are_handled_in_order_and_close_finishes_them():
    seen = []
    worker = Worker(seen.append, name="t")
    for i in range(100):
        worker.put(i)
    assert worker.close(timeout=5) is None
    assert seen == list(range(100))


def test_a_stuck_consumer_stops_the_producer_instead_of_queueing_without_end():
    release = threading.Event()
    worker = Worker(lambda _: release.wait(), name="t", depth=1)
    worker.put(1)  # taken by the worker, which now hangs
    time.sleep(0.05)
    worker.put(2)  # waits in the queue
    third = threading.Thread(target=worker.put, args=(3,), daemon=True)
    third.start()
    third.join(0.3)
    assert third.is_alive()  # blocked: the frame loop would stop pinging the watchdog here
    release.set()
    third.join(5)
    assert not third.is_alive()
    assert worker.close(timeout=5) is None


def test_an_error_reaches_the_producer_on_its_next_put_and_on_close():
    def fail_on_3(i):
        if i == 3:
            raise ValueError("bad frame 3")

    worker = Worker(fail_on_3, name="t")
    with pytest.raises(ValueError, match="bad frame 3"):
        for i in range(100):
            worker.put(i)
    error = worker.close(timeout=5)
    assert isinstance(error, ValueError)
