"""The publisher: events in from the frame loop, out to the broker, never lost on the way.

Each kind of waiting has a thread of its own, so that the frame loop has none:

* the caller's thread: ``publish(event)`` is a put on a bounded queue (full: counted, dropped);
* ``store``: queue -> outbox, in batches gathered over up to ``STORE_LINGER_S``, one transaction
  (one fsync) each; stamps ``seq`` and ``device``;
  also emits ``stats`` every ``stats_interval``;
* ``send``: outbox -> broker, oldest first, at most ``inflight`` unacknowledged; a PUBACK
  deletes the row. After a reconnect it starts again from the oldest row, so the wire order
  is always seq order and nothing unacknowledged is skipped (at-least-once, in order);
* plus the connection's own thread in ``Link`` (and paho's network thread under it).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from edgeapp.events import ErrorEvent, Event, PoseEvent, StatsEvent, cpu_temperature, encode
from edgeapp.mqtt.client import Link, LinkCallbacks
from edgeapp.mqtt.commands import Commands
from edgeapp.mqtt.config import MqttConfig
from edgeapp.mqtt.discovery import discovery_message
from edgeapp.logs import Every, shorten
from edgeapp.mqtt.outbox import CHECK_S, Outbox, OutboxError, StoreError
from edgeapp.mqtt.ratelimit import EventBudget, PoseRateLimiter
from edgeapp.mqtt.topics import Topics

log = logging.getLogger(__name__)

STORE_BATCH = 256  # events per outbox transaction at most
# After the first event of a batch, wait this long for more: one fsync per window instead of one
# per frame's events spares the SD card and the CPU the models need. A flush does not wait.
STORE_LINGER_S = 0.05
POLL_S = 0.5  # how often idle threads look at their stop flags
# Error events (a rejected command, an event that could not be encoded) in any one second at most: a
# storm of bad commands must not crowd the outbox nor the fleet's dashboards. The rest are counted.
ERROR_EVENTS_PER_S = 20
_STOP = object()


@dataclass(frozen=True)
class MqttStats:
    connected: bool
    last_error: str | None
    connections: int
    last_seq: int
    delivered: int  # acknowledged by the broker since start
    outbox_depth: int
    outbox_bytes: int
    outbox_dropped: int  # removed unacknowledged to stay within the bounds (outbox lifetime)
    handoff_dropped: int  # publish() found the queue full (since start)
    pose_rate_limited: int  # pose events thinned by pose_rate (by design, not a loss)
    encode_errors: int  # events that could not be made into JSON
    store_errors: int  # outbox writes that failed (a damaged file; a failing disk moves them to memory instead)
    lost: int  # events that could not be stored, one by one (since start); their seqs are a gap
    store_failing: bool  # the last outbox write failed: events are being lost now
    errors_suppressed: int  # error events held back by the budget of ERROR_EVENTS_PER_S (since start)
    commands_accepted: int
    commands_rejected: int
    outbox_in_memory: bool = False  # the outbox file cannot be used: events wait in memory (lost at a restart)

    def as_dict(self) -> dict:
        return asdict(self)


class Publisher:
    """Build from an ``MqttConfig``, ``start()``, ``publish(event)`` from anywhere, ``close()``.
    Holds no global state: several publishers (with different outboxes) can share a process."""

    def __init__(self, config: MqttConfig, stats_source: Callable[[], StatsEvent] | None = None,
                 store_linger_s: float = STORE_LINGER_S):
        config.validate()
        self.config = config
        self.store_linger_s = store_linger_s
        self.topics = Topics(config.topic_prefix, config.device_id, config.discovery_prefix)
        self.outbox = Outbox(config.outbox_path, config.outbox_max_rows, config.outbox_max_bytes)
        self.stats_source = stats_source
        self._queue: queue.Queue = queue.Queue(config.handoff_queue)
        self._link = Link(config, self.topics, LinkCallbacks(self._on_connected, self._on_acked, self._on_message))
        self.commands = Commands(self.topics, report=self.publish, publish_state=self._link.publish_now,
                                 registered=self._on_registered)
        self._limiter = PoseRateLimiter(config.pose_rate)
        self.commands.register("pose_rate", self._set_pose_rate, initial=config.pose_rate)
        self._acks: deque[tuple[int, int]] = deque()
        # The send thread's own state: the connection it sends on, the last seq it handed
        # to that connection, and mid -> seq of what awaits an acknowledgement.
        self._generation, self._cursor, self._inflight = 0, 0, {}
        self._wake = threading.Event()
        self._sent_all = threading.Condition()
        self._tally = threading.Lock()
        self._handoff_dropped = self._pose_rate_limited = self._encode_errors = self._store_errors = 0
        self._lost = self._errors_suppressed = 0
        self._store_failing = False
        self._reopened = 0  # the outbox's count of moves from memory into the file, as last seen by send
        self._gap: tuple[int, int, int, str] | None = None  # (first seq, last seq, events, why) not yet told
        self._store_log, self._stored_again_log, self._delete_log = Every(), Every(), Every()
        self._undeleted: list[int] = []  # acknowledged, but the deletion could not be written yet
        self._error_budget = EventBudget(ERROR_EVENTS_PER_S, clock=time.time)  # events carry wall-clock ts
        self._delivered = 0
        self._started = time.monotonic()
        self._next_stats = self._started + config.stats_interval
        self._closed = False
        self._stop_sending = threading.Event()
        self._store_thread = threading.Thread(target=self._guarded, args=(self._store_step,), daemon=True,
                                              name=f"mqtt-store-{config.device_id}")
        self._send_thread = threading.Thread(target=self._guarded, args=(self._send_step,), daemon=True,
                                             name=f"mqtt-send-{config.device_id}")

    # --- the service's API --------------------------------------------------------------

    def start(self, serving: bool = True) -> Publisher:
        """``serving=False`` for a device that will not run (a start refused for its config): what it is handed
        goes out, and ``stopped`` at the close, but it never says ``online`` and takes no commands (no
        subscription, states or discovery: nothing would apply them)."""
        self._store_thread.start()
        self._send_thread.start()
        self._link.start(serving)
        if self.outbox.depth:
            log.info("outbox %s holds %d events from before; they go first", self.outbox.path, self.outbox.depth)
        if self.outbox.unavailable is not None:
            self.publish(ErrorEvent(source="outbox", message=f"{self.outbox.unavailable}; events are held in memory "
                                    "until the file can be used (lost if the service stops before)",
                                    detail={"in_memory": True, "max_rows": self.outbox.max_rows}))
        recovered = self.outbox.recovered
        if recovered is not None:
            self.publish(ErrorEvent(source="outbox", message=recovered.message,
                                    detail={"moved_to": recovered.moved_to, "first_seq": recovered.first_seq}))
        return self

    def publish(self, event: Event) -> bool:
        """Hand an event over without waiting. False if it was not taken (rate-limited pose,
        full queue, or closing); every such case is counted in ``stats()``."""
        if not isinstance(event, Event):  # a caller's bug: fail in the caller, not in the store thread
            raise TypeError(f"publish() takes an edgeapp.events.Event, got {type(event).__name__}")
        if self._closed:
            return False
        if isinstance(event, PoseEvent) and not self._limiter.allow(event.person, event.person_id):
            with self._tally:
                self._pose_rate_limited += 1
            return False
        if isinstance(event, ErrorEvent):
            allowed, held_back = self._error_budget.take(event.ts)
            if not allowed:
                with self._tally:
                    self._errors_suppressed += 1
                return False
            if held_back:  # the first error after a storm says how many were not sent
                event = replace(event, detail={**event.detail, "suppressed_before": held_back})
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._tally:
                self._handoff_dropped += 1
            return False
        return True

    def publish_snapshot(self, jpeg: bytes) -> None:
        """The latest annotated frame, retained on ``<prefix>/<device>/snapshot``. Not an event: it
        is not outboxed (a picture taken while the broker is away is stale by the time it is back)."""
        self._link.publish_now(self.topics.snapshot, jpeg, retain=True)

    def publish_stats(self) -> bool:
        """A stats event now, besides the periodic ones (e.g. right after startup)."""
        return self.publish(self._stats_event())

    @property
    def pose_rate(self) -> float:
        return self._limiter.rate

    def stats(self) -> MqttStats:
        return MqttStats(
            connected=self._link.connected, last_error=self._link.last_error, connections=self._link.connections,
            last_seq=self.outbox.last_seq, delivered=self._delivered, outbox_depth=self.outbox.depth,
            outbox_bytes=self.outbox.size_bytes, outbox_dropped=self.outbox.dropped,
            handoff_dropped=self._handoff_dropped, pose_rate_limited=self._pose_rate_limited,
            encode_errors=self._encode_errors, store_errors=self._store_errors, lost=self._lost,
            store_failing=self._store_failing, errors_suppressed=self._errors_suppressed,
            commands_accepted=self.commands.accepted, commands_rejected=self.commands.rejected,
            outbox_in_memory=self.outbox.unavailable is not None)

    def wait_connected(self, timeout: float) -> bool:
        return self._link.wait_connected(timeout)

    @property
    def first_attempt_under_way(self) -> bool:
        """No connection attempt has ended yet: a stop that came during start-up waits for it, so its events
        still go out; once one has ended, a stop does not wait for a broker that is away."""
        return not self._link.connections and self._link.last_error is None

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything handed over so far is in the outbox (durable)."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything handed over so far is acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        if not self.flush(timeout):
            return False
        with self._sent_all:
            return self._sent_all.wait_for(lambda: self.outbox.depth == 0, max(0.0, deadline - time.monotonic()))

    def close(self, drain_timeout: float = 5.0) -> None:
        """Store what is queued, give the broker ``drain_timeout`` to take the outbox, say
        ``stopped`` and disconnect. What the broker did not take stays for the next start."""
        if self._closed:
            return
        self._closed = True
        if self._store_thread.is_alive():  # it is taking from the queue, so this put returns
            self._queue.put(_STOP)
            self._store_thread.join()
        if drain_timeout > 0 and self._link.connected:
            with self._sent_all:
                self._sent_all.wait_for(lambda: self.outbox.depth == 0, drain_timeout)
        self._stop_sending.set()
        self._wake.set()
        if self._send_thread.is_alive():
            self._send_thread.join()
        self._link.stop()
        notice = self._outbox_checked(force=True)  # never say events stay in a file that is gone (nor in memory)
        if notice:
            self._store(notice)
        if self.outbox.unavailable is not None and self.outbox.depth:
            log.error("%d undelivered events held in memory are lost: %s", self.outbox.depth, self.outbox.unavailable)
        elif self.outbox.depth:
            log.info("%d events stay in the outbox for the next start", self.outbox.depth)
        self.outbox.close()

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- store: queue -> outbox ----------------------------------------------------------

    def _guarded(self, step: Callable[[], bool]) -> None:
        """Run ``step`` until it says stop. A dead store or send thread would lose events
        silently, so an unexpected error is logged and the loop goes on."""
        while True:
            try:
                if not step():
                    return
            except Exception:
                log.exception("MQTT %s failed; carrying on", threading.current_thread().name)
                time.sleep(POLL_S)

    def _store_step(self) -> bool:
        events, markers, stop = self._take(min(CHECK_S, max(0.0, self._next_stats - time.monotonic())))
        events = self._outbox_checked() + events
        if time.monotonic() >= self._next_stats:
            events.append(self._stats_event())
            self._next_stats = time.monotonic() + self.config.stats_interval
        try:
            if events:
                self._store(events)
        finally:
            for marker in markers:
                marker.set()
        return not stop

    def _take(self, timeout: float) -> tuple[list[Event], list[threading.Event], bool]:
        """A batch: waits ``timeout`` for the first item, then up to ``store_linger_s`` for more;
        a flush marker or a full batch ends it at once."""
        events, markers = [], []
        try:
            item = self._queue.get(timeout=timeout)
            deadline = time.monotonic() + self.store_linger_s
            while True:
                if item is _STOP:
                    return events, markers, True
                if isinstance(item, threading.Event):
                    markers.append(item)
                    break
                events.append(item)
                left = deadline - time.monotonic()
                if len(events) >= STORE_BATCH or left <= 0:
                    break
                item = self._queue.get(timeout=left)
        except queue.Empty:
            pass
        return events, markers, False

    def _outbox_checked(self, force: bool = False) -> list[Event]:
        """The outbox file deleted, replaced or emptied under us (checked at most every CHECK_S):
        an error event saying what was carried over and what was lost; the lost are counted."""
        replaced = self.outbox.check(force)
        if replaced is None:
            return []
        with self._tally:
            self._lost += replaced.lost
        return [ErrorEvent(source="outbox", message=replaced.message, detail=replaced.detail)]

    def _store(self, events: list[Event]) -> None:
        # A gap notice goes last: if this write fails too, its seq alone is given back, so a gap
        # holds exactly the seqs of the lost events.
        batch = events + ([self._gap_notice()] if self._gap else [])
        try:
            result = self.outbox.append([lambda seq, e=e: self._render(e, seq) for e in batch])
        except StoreError as exc:
            notice = len(batch) > len(events) and not any(i == len(events) for i, _ in exc.refused)
            if notice:
                self.outbox.give_back(exc.last)
            self._store_failed(exc, lost=exc.count - notice)
            return
        except Exception:  # a bug, not the disk: keep the thread alive, lose (and count) this batch
            log.exception("outbox %s could not store %d events", self.outbox.path, len(events))
            with self._tally:
                self._store_errors += 1
                self._lost += len(events)
            return
        if self._store_failing and self._stored_again_log.add() is not None:
            log.warning("outbox %s stores again (%d events lost since start)", self.outbox.path, self._lost)
        self._store_failing, self._gap = False, None
        self._wake.set()
        if result.refused:
            self._refused([(batch[i], exc) for i, exc in result.refused])

    def _store_failed(self, exc: StoreError, lost: int) -> None:
        """A write failed (a damaged file): count the events it held, remember their seqs for the gap
        notice that the next successful write stores first, and say so once a minute at most."""
        with self._tally:
            self._store_errors += 1
            self._lost += lost
            self._encode_errors += len(exc.refused)
        first, _, before, _ = self._gap or (exc.first, 0, 0, "")
        self._gap = (first, exc.first + lost - 1, before + lost, str(exc).rpartition(": ")[2])
        self._store_failing = True
        due = self._store_log.add(lost)
        if due is not None:
            log.error("%s; %d events lost since the last such line (their seqs are skipped; counted in stats "
                      "as lost)", exc, due)

    def _gap_notice(self) -> ErrorEvent:
        first, last, lost, why = self._gap  # type: ignore[misc]
        return ErrorEvent(source="outbox", message=f"{lost} events could not be stored ({why}); "
                                                   f"seq {first}..{last} will never arrive",
                          detail={"lost": lost, "first_seq": first, "last_seq": last, "reason": why})

    def _render(self, event: Event, seq: int) -> tuple[str, bytes]:
        if isinstance(event, StatsEvent) and event.mqtt is None:
            event = replace(event, mqtt=self.stats().as_dict())
        return self.topics.event(event.kind), encode(event, self.topics.device, seq)

    def _refused(self, failures: list[tuple[Event, Exception]]) -> None:
        with self._tally:
            self._encode_errors += len(failures)
        errors = []
        for event, exc in failures:
            log.error("%s event could not be encoded: %s", event.kind, shorten(str(exc)))
            error = ErrorEvent(source="publisher", message=f"{event.kind} event could not be encoded: "
                               f"{shorten(str(exc))}", detail={"event": event.kind})
            if self._error_budget.take(error.ts)[0]:
                errors.append(error)
            else:
                with self._tally:
                    self._errors_suppressed += 1
        try:
            self.outbox.append([lambda seq, e=e: self._render(e, seq) for e in errors])
        except StoreError as exc:
            self._store_failed(exc, lost=exc.count)

    def _stats_event(self) -> StatsEvent:
        if self.stats_source is not None:
            try:
                return self.stats_source()
            except Exception:
                log.exception("stats source failed; sending the publisher's own stats")
        return StatsEvent(uptime_s=round(time.monotonic() - self._started, 1), cpu_temp_c=cpu_temperature())

    # --- send: outbox -> broker ----------------------------------------------------------

    def _send_step(self) -> bool:
        self._wake.wait(POLL_S)
        self._wake.clear()
        if self._stop_sending.is_set():
            return False
        self._settle()
        if not self._link.connected:
            return True
        if self.outbox.reopened != self._reopened:
            # Memory moved into the file: its older rows (from before the outage) are below the cursor.
            self._reopened, self._cursor = self.outbox.reopened, 0
        if self._link.generation != self._generation:
            # A new connection: whatever the old one did not get acknowledged goes again.
            self._generation, self._cursor, self._inflight = self._link.generation, 0, {}
            if self.outbox.depth:
                log.info("sending %d events from the outbox", self.outbox.depth)
        room = self.config.inflight - len(self._inflight)
        for message in self.outbox.peek(self._cursor, room) if room > 0 else ():
            mid = self._link.publish(self._generation, message.topic, message.payload, self.config.qos)
            if mid is None:
                break
            self._inflight[mid], self._cursor = message.seq, message.seq
        return True

    def _settle(self) -> None:
        """Delete what the broker acknowledged. Acks of an older connection are stale: their
        rows were re-sent on the new one, whose acks will delete them."""
        done = []
        while self._acks:
            gen, mid = self._acks.popleft()
            if gen == self._generation and mid in self._inflight:
                done.append(self._inflight.pop(mid))
        done, self._undeleted = self._undeleted + done, []
        if not done:
            return
        try:
            self.outbox.delete(done)
        except OutboxError as exc:  # a damaged file: the rows stay (and may be sent again); retried next turn
            self._undeleted = done
            if self._delete_log.add(len(done)) is not None:
                log.error("%s", exc)
            return
        self._delivered += len(done)
        self._wake.set()  # room in the window again
        with self._sent_all:
            self._sent_all.notify_all()

    # --- link callbacks (paho's network thread: quick, never raise) ----------------------

    def _on_connected(self, generation: int) -> None:
        if self._link.serving:
            for topic, payload in self.commands.states().items():
                self._link.publish_now(topic, payload)
            if self.config.discovery:
                self._send_discovery()
        self._wake.set()

    def _on_acked(self, generation: int, mid: int) -> None:
        self._acks.append((generation, mid))
        self._wake.set()

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.ha_status:
            if payload.strip() == b"online" and self.config.discovery:
                self._send_discovery()
            return
        self.commands.dispatch(topic, payload)

    def _send_discovery(self) -> None:
        topic, payload = discovery_message(self.topics, self.commands.registered, self.config.qos)
        self._link.publish_now(topic, payload, retain=False)

    def _on_registered(self, feature: str) -> None:
        # A handler registered after connecting is a new Home Assistant entity: say so now.
        if self.config.discovery and self._link.connected:
            self._send_discovery()

    def _set_pose_rate(self, rate: float) -> None:
        self._limiter.rate = rate
