"""Run Ansible against a local container through the ``docker`` CLI (tests only).

ansible-core has no docker connection and community.docker is only in the 545 MB ``ansible`` bundle, so the tests
use these few lines instead: every command is a ``docker exec``, files go in and out through its stdin/stdout.
The inventory names the container with ``ansible_host`` (default: the inventory name). Pipelining is supported.
"""

from __future__ import annotations

DOCUMENTATION = """
name: docker_cli
short_description: run tasks in a local container with the docker CLI
description:
  - Test-only connection for edgeapp's container tests.
author: edgeapp
options:
  remote_addr:
    description: container name or id
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  remote_user:
    description: user in the container
    vars:
      - name: ansible_user
"""

import shlex
import subprocess

from ansible.errors import AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()


class Connection(ConnectionBase):
    transport = "docker_cli"
    has_pipelining = True

    def _connect(self):
        self._connected = True
        return self

    def _container(self) -> str:
        return self.get_option("remote_addr")

    def _exec_args(self, interactive: bool) -> list[str]:
        args = ["docker", "exec"]
        if interactive:
            args.append("-i")
        user = self.get_option("remote_user")
        if user:
            args += ["-u", user]
        return args + [self._container()]

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = self._exec_args(interactive=in_data is not None) + ["/bin/sh", "-c", cmd]
        display.vvv(f"EXEC {shlex.join(args)}", host=self._container())
        proc = subprocess.run(args, input=in_data, capture_output=True)
        return proc.returncode, proc.stdout, proc.stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        args = self._exec_args(interactive=True) + ["/bin/sh", "-c", 'cat > "$1"', "sh", out_path]
        with open(in_path, "rb") as fh:
            proc = subprocess.run(args, stdin=fh, capture_output=True)
        if proc.returncode != 0:
            raise AnsibleError(f"failed to put {in_path} to {out_path}: {proc.stderr!r}")

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        args = self._exec_args(interactive=False) + ["cat", in_path]
        with open(out_path, "wb") as fh:
            proc = subprocess.run(args, stdout=fh, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            raise AnsibleError(f"failed to fetch {in_path}: {proc.stderr!r}")

    def close(self):
        self._connected = False
