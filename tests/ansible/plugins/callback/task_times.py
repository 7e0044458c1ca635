"""Print the slowest tasks at the end of a run (tests only; ansible-core has no profile_tasks)."""

from __future__ import annotations

DOCUMENTATION = """
name: task_times
type: aggregate
short_description: the slowest tasks of a run
description: Test-only. Prints the ten slowest tasks (wall time, all hosts together) after the recap.
requirements: []
"""

import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._times: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def _close(self):
        if self._current:
            name, start = self._current
            self._times[name] = self._times.get(name, 0.0) + time.monotonic() - start
            self._current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self._current = (task.get_name(), time.monotonic())

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        self._close()
        top = sorted(self._times.items(), key=lambda kv: -kv[1])[:10]
        self._display.display("TASK TIMES " + "; ".join(f"{name}: {secs:.1f}s" for name, secs in top))
