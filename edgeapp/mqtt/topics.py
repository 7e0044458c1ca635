"""Every topic the device publishes or listens to, in one place (documented in docs/events.md)."""

from __future__ import annotations

from dataclasses import dataclass

AVAILABLE_ONLINE = "online"
AVAILABLE_OFFLINE = "offline"  # the Last Will: the broker says it when we vanish
AVAILABLE_STOPPED = "stopped"  # said by a clean shutdown


@dataclass(frozen=True)
class Topics:
    prefix: str
    device: str
    discovery_prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device}"

    @property
    def available(self) -> str:
        return f"{self.base}/available"

    def event(self, kind: str) -> str:
        return f"{self.base}/events/{kind}"

    @property
    def snapshot(self) -> str:
        return f"{self.base}/snapshot"

    def command(self, feature: str) -> str:
        return f"{self.base}/{feature}/set"

    def state(self, feature: str) -> str:
        return f"{self.base}/{feature}/state"

    @property
    def commands(self) -> str:
        """The subscription that catches every feature's ``set`` topic."""
        return f"{self.base}/+/set"

    def feature_of(self, topic: str) -> str | None:
        """``<base>/<feature>/set`` -> feature; None for anything else."""
        head, _, rest = topic.partition(self.base + "/")
        feature, sep, tail = rest.partition("/")
        return feature if not head and sep and tail == "set" and feature else None

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth/last-will topic: ``online`` means it wants discovery again."""
        return f"{self.discovery_prefix}/status"

    @property
    def discovery_node(self) -> str:
        return f"edgeapp_{self.device}"

    @property
    def discovery(self) -> str:
        return f"{self.discovery_prefix}/device/{self.discovery_node}/config"
