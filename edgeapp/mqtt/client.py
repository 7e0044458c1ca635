"""The broker connection: one paho-mqtt 2.x client per connection attempt.

A fresh client for every attempt (instead of paho's own reconnect) keeps the outbox the
only queue: paho never replays messages from memory behind our back, so after a reconnect
the publisher re-sends from the oldest unacknowledged outbox row and the order on the wire
is always seq order. The attempts back off exponentially with jitter, so a fleet that lost
its broker does not reconnect in lock-step.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edgeapp.backoff import backoff_delay
from edgeapp.logs import shorten
from edgeapp.mqtt.config import MqttConfig
from edgeapp.mqtt.topics import AVAILABLE_OFFLINE, AVAILABLE_ONLINE, AVAILABLE_STOPPED, Topics

log = logging.getLogger(__name__)


class _PahoLog(logging.LoggerAdapter):
    """paho's own log less one false alarm: paho 2.2 may run its loop once more after a clean
    disconnect and log "Client is not connected" at ERROR, on every stop. A real loss of the
    connection is reported by on_disconnect anyway."""

    def log(self, level, msg, *args, **kwargs):
        if level >= logging.ERROR and isinstance(msg, str) and msg.startswith("Client is not connected"):
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)

STOP_PUBLISH_TIMEOUT_S = 2.0
# A broker that takes the TCP connection but sends no CONNACK (hung, or not MQTT at all) would otherwise
# hold the attempt until paho's keepalive gives up (60 s by default), silently. A CONNACK normally
# comes in milliseconds; 10 s allows for a TLS handshake on a slow link, and keepalive is a broker's
# own limit for silence, so the smaller of the two.
CONNACK_TIMEOUT_S = 10.0


@dataclass
class LinkCallbacks:
    """What the publisher wants to hear. All run on paho's network thread and must be quick."""

    connected: Callable[[int], None]  # generation
    acked: Callable[[int, int], None]  # generation, mid
    message: Callable[[str, bytes], None]  # topic, payload


class Link:
    def __init__(self, config: MqttConfig, topics: Topics, callbacks: LinkCallbacks):
        self._config = config
        self._topics = topics
        self._callbacks = callbacks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._client: paho.Client | None = None
        self._generation = 0
        self._connected = threading.Event()
        self._lost = threading.Event()
        self._attempt = "idle"  # per connection attempt: connecting, in, refused
        self.serving = True
        self.last_error: str | None = None
        self.connections = 0

    # --- state the publisher reads ---
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def generation(self) -> int:
        return self._generation

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self, serving: bool = True) -> None:
        """``serving=False``: connections that only deliver, for a device that will not run: no command
        subscription and no ``online``, so it is never taken for up; ``stopped`` still ends each."""
        self.serving = serving
        self._thread = threading.Thread(target=self._run, name=f"mqtt-link-{self._topics.device}", daemon=True)
        self._thread.start()

    def publish(self, generation: int, topic: str, payload: bytes | str, qos: int, retain: bool = False) -> int | None:
        """Hand a message to the connection of ``generation``; its mid, or None when that
        connection is gone (the caller keeps the message and re-sends on the next one)."""
        with self._lock:
            client = self._client if generation == self._generation and self.connected else None
        if client is None:
            return None
        info = client.publish(topic, payload, qos=qos, retain=retain)
        return info.mid if info.rc == paho.MQTT_ERR_SUCCESS else None

    def publish_now(self, topic: str, payload: bytes | str, retain: bool = True) -> None:
        """Fire-and-forget for state and discovery: re-sent on every connect, so not outboxed."""
        self.publish(self._generation, topic, payload, qos=1, retain=retain)

    def stop(self) -> None:
        """Say ``stopped`` (retained) and disconnect cleanly, so the Last Will is not sent."""
        self._stop.set()
        self._lost.set()
        if self._thread:
            self._thread.join(timeout=10)

    # --- the connection thread ---
    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if self._connect_once():
                failures = 0
            else:
                failures += 1
            if self._stop.is_set():
                break
            self._stop.wait(backoff_delay(failures, self._config.reconnect_min, self._config.reconnect_max))

    def _connect_once(self) -> bool:
        """One attempt and, if it gets in, the whole life of that connection. True if it got in."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._lost.clear()
            self._attempt = "connecting"
        if self._stop.is_set():  # stop() came before the clear above
            return False
        try:
            client = self._new_client(generation)
        except Exception as exc:  # a password file that became unreadable, a bad TLS file...
            self._fail(str(exc))
            return False
        with self._lock:
            self._client = client
        try:
            client.connect(self._config.host, self._config.port, self._config.keepalive)
        except ssl.SSLCertVerificationError as exc:
            self._fail(f"TLS certificate of {self._where} not trusted: {exc.verify_message} "
                       "(check mqtt.tls_ca and mqtt.tls_check_hostname)")
            return False
        except (OSError, ssl.SSLError) as exc:
            self._fail(f"cannot reach broker {self._where}: {exc}")
            return False
        client.loop_start()
        timeout = min(CONNACK_TIMEOUT_S, self._config.keepalive)
        if not self._lost.wait(timeout) and self._no_answer():
            self._fail(f"broker {self._where} took the connection but did not accept it within {timeout:g} s "
                       "(no CONNACK: a hung broker, or not an MQTT port?)")
            client.disconnect()
            self._lost.set()
        self._lost.wait()
        if self._stop.is_set() and self.connected:
            self._say_stopped(client)
        self._connected.clear()
        client.loop_stop()
        return self._attempt == "in"

    @property
    def _where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def _new_client(self, generation: int) -> paho.Client:
        c = self._config
        client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=c.effective_client_id,
                             protocol=paho.MQTTv311, clean_session=True, reconnect_on_failure=False)
        client.enable_logger(_PahoLog(logging.getLogger("paho")))  # type: ignore[arg-type]
        client.max_inflight_messages_set(c.inflight)
        client.will_set(self._topics.available, AVAILABLE_OFFLINE, qos=1, retain=True)
        if c.username:
            client.username_pw_set(c.username, c.password())
        if c.use_tls:
            client.tls_set(ca_certs=c.tls_ca, certfile=c.tls_cert, keyfile=c.tls_key,
                           cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            client.tls_insecure_set(not c.tls_check_hostname)
        client.on_connect = lambda cl, ud, flags, rc, props: self._on_connect(generation, cl, rc)
        client.on_disconnect = lambda cl, ud, flags, rc, props: self._on_disconnect(generation, rc)
        client.on_publish = lambda cl, ud, mid, rc, props: self._callbacks.acked(generation, mid)
        client.on_message = lambda cl, ud, msg: self._on_message(msg)
        return client

    def _no_answer(self) -> bool:
        """Still no CONNACK: the attempt is given up (so a late one is not taken as a connection)."""
        with self._lock:
            if self._attempt != "connecting":
                return False
            self._attempt = "no answer"
            return True

    def _on_connect(self, generation: int, client: paho.Client, reason) -> None:
        with self._lock:
            if self._attempt == "no answer":  # came after the attempt was given up
                return
            self._attempt = "refused" if reason.is_failure else "in"
        if reason.is_failure:
            self._fail(f"broker {self._where} refused the connection: {reason} "
                       "(check mqtt.username, the password and mqtt.client_id)")
            self._lost.set()
            return
        if self.last_error:
            log.info("connected to %s again", self._where)
        else:
            log.info("connected to %s", self._where)
        self.last_error = None
        self.connections += 1
        if not self.serving:
            self._up(generation)
            return
        wanted = [(self._topics.commands, 1)] + ([(self._topics.ha_status, 1)] if self._config.discovery else [])
        _, mid = client.subscribe(wanted)
        # Connected means listening too: `online` waits for the subscription's acknowledgement, so a
        # command sent the moment a controller sees it is never missed.
        client.on_subscribe = lambda cl, ud, m, codes, props: self._on_subscribed(generation, m == mid, codes, cl)

    def _on_subscribed(self, generation: int, ours: bool, codes, client: paho.Client) -> None:
        if not ours or generation != self._generation:
            return
        # Retained, and re-said on every connect: the broker may have restarted without
        # persistence, or sent our Will while we were away.
        client.publish(self._topics.available, AVAILABLE_ONLINE, qos=1, retain=True)
        if any(code.is_failure for code in codes):
            log.warning("broker %s refused the command subscriptions (%s): commands will not work",
                        self._where, ", ".join(str(c) for c in codes))
        self._up(generation)

    def _up(self, generation: int) -> None:
        self._connected.set()
        try:
            self._callbacks.connected(generation)
        except Exception:
            log.exception("MQTT on-connect handler failed")

    def _on_disconnect(self, generation: int, reason) -> None:
        if generation != self._generation:
            return
        self._connected.clear()
        if self._attempt == "connecting":  # no CONNACK at all: often plain MQTT to a TLS port
            self._fail(f"broker {self._where} closed the connection before accepting it ({reason}); "
                       "check mqtt.port and mqtt.tls")
        elif self._attempt == "in" and not self._stop.is_set():
            log.warning("lost broker %s: %s", self._where, reason)
        self._lost.set()

    def _on_message(self, msg) -> None:
        # An exception escaping a paho callback would end its network loop: never let one out.
        try:
            self._callbacks.message(msg.topic, msg.payload)
        except Exception:
            log.exception("MQTT message handler failed on %s", shorten(msg.topic))

    def _say_stopped(self, client: paho.Client) -> None:
        info = client.publish(self._topics.available, AVAILABLE_STOPPED, qos=1, retain=True)
        try:
            info.wait_for_publish(STOP_PUBLISH_TIMEOUT_S)
        except (RuntimeError, ValueError):
            pass
        client.disconnect()

    def _fail(self, message: str) -> None:
        # Once at WARNING per distinct error: a broker away for an hour must not flood the journal.
        if message != self.last_error:
            log.warning("%s", message)
        else:
            log.debug("%s", message)
        self.last_error = message
