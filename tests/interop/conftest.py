# SPDX-License-Identifier: MIT
"""Fixtures of the interop suite: umdevd plus stock tools run through umdev-exec in a private
mount namespace (mdev.md §9.8). Needs root, unshare and mdevctl."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "functional"))
from umdevd_fixture import Umdevd  # noqa: E402


def umdev_exec_path():
    p = os.environ.get("UMDEV_EXEC")
    if not p:
        pytest.fail("UMDEV_EXEC is not set: run the tests through `meson test`")
    return p


@pytest.fixture(autouse=True)
def _requirements():
    if os.geteuid() != 0:
        pytest.skip("needs root: mount namespaces")
    if not shutil.which("mdevctl"):
        pytest.fail("mdevctl is not installed (scripts/install-deps.sh installs it)")


class Env:
    """umdevd plus a persistent private /etc/mdevctl.d (a temporary directory)."""

    def __init__(self, daemon, config):
        self.d = daemon
        self.config = config

    def run(self, *cmd, config=True, check=False):
        args = [umdev_exec_path(), "--mountpoint", str(self.d.root)]
        if config:
            args += ["--config-dir", str(self.config)]
        r = subprocess.run(args + ["--"] + list(cmd), capture_output=True, text=True,
                           timeout=60)
        if check:
            assert r.returncode == 0, f"{cmd}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def mdevctl(self, *args, check=False):
        return self.run("mdevctl", *args, check=check)


@pytest.fixture
def env(tmp_path):
    d = Umdevd(tmp_path).start()
    try:
        yield Env(d, tmp_path / "mdevctl.d")
        d.stop()
        d.check_output()
    finally:
        d.kill()
