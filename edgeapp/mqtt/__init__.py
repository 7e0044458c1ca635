"""MQTT: events that are never lost (durable outbox), availability, commands and
Home Assistant discovery. See docs/events.md for the topics and payloads.

    config = read(MqttConfig, toml["mqtt"], "mqtt")           # ConfigError names the bad key
    publisher = Publisher(config, stats_source=make_stats)
    publisher.commands.register("tracking", tracker.set_enabled, initial=True)  # before start()
    publisher.start()
    publisher.publish(PoseEvent(pose=pose, frame=n))   # never blocks
    publisher.close(drain_timeout=5)
"""

from edgeapp.mqtt.commands import FEATURES, CommandRejected
from edgeapp.mqtt.config import MqttConfig
from edgeapp.mqtt.outbox import Outbox, OutboxError
from edgeapp.mqtt.publisher import MqttStats, Publisher
from edgeapp.mqtt.topics import Topics

__all__ = ["FEATURES", "CommandRejected", "MqttConfig", "MqttStats", "Outbox", "OutboxError", "Publisher", "Topics"]
