#!/usr/bin/env bash
# What the container tests (-m container: the systemd unit test, the Ansible fleet test) need, idempotently:
#   - Debian packages: docker.io (the engine), debootstrap (the base images), mosquitto-clients,
#     qemu-user-static + binfmt-support (the aarch64 test runs an arm64 root under emulation)
#   - dockerd running (started in the background when `docker info` does not answer; left running)
#   - .venv-tools: ansible-core + ansible-lint + yamllint (their own venv: they pin their own dependencies)
#   - the bookworm systemd image, built once from a debootstrap root and reused by tag
#   - the arm64 bookworm root (a tarball in the test cache, named by its recipe), made once with debootstrap
# Every step is skipped when already done, so a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -qq)

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
[ -x /usr/bin/qemu-aarch64-static ] || [ "$(uname -m)" = aarch64 ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
if [ ${#need[@]} -gt 0 ]; then
  "${APT[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
    "${APT[@]}" update
    "${APT[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null
  }
fi

TOOLS=${EDGEAPP_TOOLS_VENV:-.venv-tools}
if ! "$TOOLS/bin/ansible-lint" --version >/dev/null 2>&1; then
  [ -x "$TOOLS/bin/python" ] || "${PYTHON:-python3}" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    "ansible-core>=2.17,<2.20" "ansible-lint>=25" "yamllint>=1.35"
fi

# dockerd + the image, through the same code the tests use (tests/infra)
PYTHONPATH=tests "${PYTHON:-python3}" -c 'from infra import ensure_image; print("image", ensure_image())'
PYTHONPATH=tests "${PYTHON:-python3}" -c 'from infra.arm64 import ensure_arm64_rootfs; print("arm64 root", ensure_arm64_rootfs())'
echo "container prereqs ready in ${SECONDS}s ($("$TOOLS/bin/ansible-playbook" --version 2>/dev/null | sed -n 1p))"
