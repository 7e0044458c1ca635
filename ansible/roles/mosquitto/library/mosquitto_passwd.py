#!/usr/bin/python
"""Manage a mosquitto password file idempotently (mosquitto_passwd re-salts on every call, so it never is)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: mosquitto_passwd
short_description: Manage users in a mosquitto password file
description:
  - Writes C(user:$7$...) lines (PBKDF2-SHA512, as mosquitto 2 writes them). A user whose password still verifies
    keeps its line, so the file only changes when a user or a password changes.
options:
  path:
    description: The password file.
    type: path
    required: true
  users:
    description: User name to password.
    type: dict
    required: true
  exclusive:
    description: Remove users not in I(users).
    type: bool
    default: true
  owner:
    description: Owner of the file.
    type: str
  group:
    description: Group of the file.
    type: str
  mode:
    description: Mode of the file.
    type: raw
    default: "0640"
author: edgeapp
"""

EXAMPLES = r"""
- name: Device accounts
  mosquitto_passwd:
    path: /etc/mosquitto/edgeapp.passwd
    users:
      edge-01: "{{ vault_edge01_password }}"
"""

RETURN = r"""
added:
  description: Users added.
  type: list
  returned: always
updated:
  description: Users whose password changed.
  type: list
  returned: always
removed:
  description: Users removed.
  type: list
  returned: always
"""

import base64
import hashlib
import hmac
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

ITERATIONS = 101  # mosquitto 2.0's default


def make_hash(password: str) -> str:
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verifies(stored: str, password: str) -> bool:
    parts = stored.split("$")
    try:
        if len(parts) == 5 and parts[1] == "7":
            salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
            got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
        elif len(parts) == 4 and parts[1] == "6":
            salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            got = hashlib.sha512(password.encode() + salt).digest()
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "users": {"type": "dict", "required": True, "no_log": True},
            "exclusive": {"type": "bool", "default": True},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "raw", "default": "0640"},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    users = {str(k): str(v) for k, v in module.params["users"].items()}
    for name in users:
        if not name or ":" in name or "\n" in name:
            module.fail_json(msg=f"invalid mosquitto user name {name!r}")
    existing: list[tuple[str, str]] = []
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                line = line.rstrip("\n")
                if ":" in line:
                    existing.append(tuple(line.split(":", 1)))
    lines, added, updated, removed, seen = [], [], [], [], set()
    for name, stored in existing:
        if name in seen:
            continue
        seen.add(name)
        if name not in users:
            if module.params["exclusive"]:
                removed.append(name)
            else:
                lines.append(f"{name}:{stored}")
        elif verifies(stored, users[name]):
            lines.append(f"{name}:{stored}")
        else:
            updated.append(name)
            lines.append(f"{name}:{make_hash(users[name])}")
    for name in users:
        if name not in seen:
            added.append(name)
            lines.append(f"{name}:{make_hash(users[name])}")
    changed = bool(added or updated or removed) or not os.path.exists(path)
    if changed and not module.check_mode:
        directory = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".passwd.")
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(line + "\n" for line in lines))
        module.atomic_move(tmp, path)
    file_args = module.load_file_common_arguments(module.params)
    if os.path.exists(path):
        changed = module.set_fs_attributes_if_different(file_args, changed)
    module.exit_json(changed=changed, added=added, updated=updated, removed=removed)


if __name__ == "__main__":
    main()
