# SPDX-License-Identifier: MIT
"""Run the real umdevd for a test (STYLE.md §7), after libfuse's test/util.py.

Umdevd(...).start() mounts a temporary root R (the tree is R/sys) with a temporary run
directory and an mdevctl configuration directory of its own (no definitions unless the test
writes some), and waits for the mount and umdevd's "tree mounted" line (printed once the
auto-start devices are up), failing if the daemon exits first. stop() sends SIGTERM and
requires exit status 0 and no mount left; on any failure it kills the daemon and unmounts
lazily. check_output() fails the test if stderr holds a sanitizer report or a line at warning
level or above that the test did not declare with expect_log().
"""
import errno
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SANITIZER_RE = re.compile(
    r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|"
    r"ThreadSanitizer:|runtime error:|SUMMARY: (Address|Undefined|Thread|Leak)Sanitizer)"
)
# umdev_log's stderr sink: "umdevd: <level>: msg", or "<N>msg" under journald
LEVEL_RE = re.compile(r"^(?:umdevd: (?P<name>error|warning|notice|info|debug): |<(?P<num>[0-7])>)")
WARNING_OR_ABOVE = {"error", "warning"}


def umdevd_path():
    exe = os.environ.get("UMDEVD")
    if not exe:
        pytest.fail("UMDEVD is not set: run the tests through `meson test`")
    return exe


def unescape_mountinfo(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def fuse_mounted(path):
    """Whether @path is the mount point of a FUSE mount (in our mount namespace)."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if unescape_mountinfo(fields[4]) == path and fields[sep + 1].startswith("fuse"):
                return True
    return False


def lazy_unmount(path):
    for cmd in (["umount", "-l", str(path)], ["fusermount3", "-u", "-z", str(path)]):
        if shutil.which(cmd[0]):
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not fuse_mounted(path):
                return


class Umdevd:
    """One umdevd process with its own mount root and run directory."""

    def __init__(self, tmp_path, args=(), name="umdevd"):
        self.base = Path(tmp_path)
        self.root = self.base / f"{name}-root"  # mount root R
        self.sys = self.root / "sys"
        self.rundir = self.base / f"{name}-run"
        self.mdevctl_config = self.base / f"{name}-mdevctl.d"  # --mdevctl-config
        self.stdout_path = self.base / f"{name}.stdout"
        self.stderr_path = self.base / f"{name}.stderr"
        self.args = list(args)
        self.proc = None
        self.env = None  # the daemon's environment; None: the test's
        self.wrapper = []  # a command umdevd runs under (setpriv, strace)
        self.expected = []  # regexes of warning-or-above lines the test expects

    # ---- life cycle ----

    def command(self):
        return [umdevd_path(), "--foreground", "--mountpoint", str(self.root),
                "--rundir", str(self.rundir), "--mdevctl-config", str(self.mdevctl_config)
                ] + self.args

    def start(self, timeout=20):
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.wrapper + self.command(), stdout=out, stderr=err,
                                         env=self.env,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not fuse_mounted(self.root) or "tree mounted at" not in self.stdout():
            if self.proc.poll() is not None:
                pytest.fail(f"umdevd exited with {self.proc.returncode} before mounting:\n"
                            + self.stderr())
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail("umdevd did not mount within %d s:\n%s" % (timeout, self.stderr()))
            time.sleep(0.01)
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if fuse_mounted(self.root):
            lazy_unmount(self.root)

    def stop(self, timeout=60):
        """SIGTERM; the daemon must exit 0 and leave no mount behind."""
        if self.proc is None or self.proc.poll() is not None:
            rc = None if self.proc is None else self.proc.returncode
            self.kill()
            pytest.fail(f"umdevd died during the test (status {rc}):\n" + self.stderr())
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"umdevd did not exit within {timeout} s of SIGTERM:\n" + self.stderr())
        still_mounted = fuse_mounted(self.root)
        if still_mounted:
            lazy_unmount(self.root)
        if rc != 0:
            pytest.fail(f"umdevd exited with {rc} on SIGTERM:\n" + self.stderr())
        if still_mounted:
            pytest.fail("umdevd exited but left its tree mounted")

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout(self):
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def expect_log(self, regex):
        """Declare that a warning-or-above line matching @regex is expected."""
        self.expected.append(re.compile(regex))

    def check_output(self):
        """Fail on sanitizer reports and unexpected lines at warning level or above."""
        bad = []
        for line in self.stderr().splitlines():
            if SANITIZER_RE.search(line):
                bad.append(line)
                continue
            m = LEVEL_RE.match(line)
            if not m:
                continue
            severe = (m.group("name") in WARNING_OR_ABOVE if m.group("name")
                      else int(m.group("num")) <= 4)
            if severe and not any(r.search(line) for r in self.expected):
                bad.append(line)
        if bad:
            pytest.fail("unexpected umdevd output:\n" + "\n".join(bad) +
                        "\n--- full stderr ---\n" + self.stderr())

    # ---- using the tree as a user would ----

    def path(self, rel):
        """R/sys/<rel>."""
        return self.sys / rel

    def type_dir(self, type_id, parent="mtty"):
        return self.sys / "class/mdev_bus" / parent / "mdev_supported_types" / type_id

    def dev_dir(self, uuid, parent="mtty", cls="mtty"):
        return self.sys / "devices/virtual" / cls / parent / uuid

    def available(self, type_id, parent="mtty"):
        return int((self.type_dir(type_id, parent) / "available_instances").read_text())

    @staticmethod
    def write_once(path, data, flags=os.O_WRONLY):
        """One open and one write(2) of @data; returns write's count, raises OSError."""
        if isinstance(data, str):
            data = data.encode()
        fd = os.open(path, flags)
        try:
            return os.write(fd, data)
        finally:
            os.close(fd)

    @staticmethod
    def write_errno(path, data, flags=os.O_WRONLY):
        """The errno of one write of @data (0 on success)."""
        try:
            Umdevd.write_once(path, data, flags)
        except OSError as e:
            return e.errno
        return 0

    def create(self, uuid, type_id="mtty-2", parent="mtty"):
        data = uuid + "\n"
        n = self.write_once(self.type_dir(type_id, parent) / "create", data)
        assert n == len(data)
        return self.sys / "bus/mdev/devices" / uuid.lower()

    def create_errno(self, uuid, type_id="mtty-2", parent="mtty"):
        return self.write_errno(self.type_dir(type_id, parent) / "create", uuid + "\n")

    def remove(self, uuid):
        assert self.write_once(self.sys / "bus/mdev/devices" / uuid / "remove", b"1") == 1

    def devices(self):
        return sorted(os.listdir(self.sys / "bus/mdev/devices"))


def errno_name(e):
    return errno.errorcode.get(e, str(e)) if e else "success"
