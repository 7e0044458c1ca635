"""A publishing process for the kill -9 tests: our real Publisher in a process of its own.

Publishes ``count`` tracking events whose (target, pan) say which run and which event they
are, then prints ``stored`` once they are all in the outbox and waits to be killed.
"""

from __future__ import annotations

import argparse
import sys
import time

from edgeapp.events import TrackingEvent
from edgeapp.mqtt import MqttConfig, Publisher


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--outbox", required=True)
    ap.add_argument("--device", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--interval", type=float, default=0.0)
    args = ap.parse_args()
    config = MqttConfig(host="127.0.0.1", port=args.port, device_id=args.device, outbox_path=args.outbox,
                        reconnect_min=0.05, reconnect_max=0.5, keepalive=5)
    publisher = Publisher(config).start()
    print("started", publisher.outbox.last_seq, flush=True)
    for i in range(args.count):
        while not publisher.publish(TrackingEvent(type="angles", pan=float(i), tilt=0.0, target=args.run)):
            time.sleep(0.001)  # only a test driver may wait; it must not lose its own events
        if args.interval:
            time.sleep(args.interval)
    publisher.flush(30)
    print("stored", publisher.outbox.last_seq, flush=True)
    sys.stdin.read()  # until the test kills us


if __name__ == "__main__":
    main()
