"""``edgeapp bench mqtt``."""

from __future__ import annotations

import argparse

from edgeapp.bench.mqtt import LocalMosquitto, bench_mqtt, print_report
from edgeapp.cli import usage_error
from edgeapp.cli.common import add_json_option


def register(cli) -> None:
    b = cli.add("bench", "mqtt", "sustained events/s through the durable outbox at QoS 1, and the publish() hand-off time")
    b.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    b.add_argument("--port", type=int, default=None,
                   help="broker port; without it a throw-away local mosquitto is started on a free port")
    b.add_argument("--events", type=int, default=5000, help="events to publish (default 5000)")
    b.add_argument("--qos", type=int, choices=(0, 1, 2), default=1, help="QoS (default 1)")
    add_json_option(b)
    b.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    if args.events < 1:
        return usage_error("--events must be at least 1")
    if args.port is not None:
        report = bench_mqtt(args.host, args.port, events=args.events, qos=args.qos)
    else:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp, LocalMosquitto(Path(tmp)) as broker:
            report = bench_mqtt("127.0.0.1", broker.port, events=args.events, qos=args.qos)
    print_report(report, as_json=args.json)
    return 0
