"""The rig types, registered in this one place: a new rig is a module with a ``RIG`` and a line here.

The ``[pantilt]`` table gets a sub-table per rig type, ``pantilt.rig`` accepts
their names, and ``edgeapp pantilt test --rig`` offers them, all from this dict.
"""

from __future__ import annotations

from edgeapp.pantilt import hat, servo, sim
from edgeapp.pantilt.actuator import RigType

RIGS: dict[str, RigType] = {rig.name: rig for rig in (sim.RIG, servo.RIG, hat.RIG)}
NO_RIG = "none"
