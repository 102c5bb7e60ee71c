# SPDX-License-Identifier: MIT
"""umdevd itself: options, start-up refusals, shutdown (mdev.md §8.1, §8.2)."""
import errno
import os
import re
import random
import signal
import subprocess
import time
import uuid

import pytest

from umdevd_fixture import errno_name, fuse_mounted, lazy_unmount, umdevd_path, SANITIZER_RE

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def run(args, timeout=30):
    return subprocess.run([umdevd_path()] + args, capture_output=True, text=True,
                          timeout=timeout)


def test_daemon_help():
    r = run(["--help"])
    assert r.returncode == 0
    assert r.stdout.startswith("Usage: umdevd")
    for opt in ("--mountpoint", "--rundir", "--foreground", "--log-level",
                "--fuse-max-threads", "--help", "--version"):
        assert opt in r.stdout
    assert r.stderr == ""


def test_daemon_version():
    r = run(["--version"])
    assert r.returncode == 0
    assert r.stdout.startswith("umdevd ")
    assert len(r.stdout.split()) == 2


@pytest.mark.parametrize("args", [["--bogus"], ["--log-level", "loud"],
                                  ["--fuse-max-threads", "0"], ["--fuse-max-threads", "x"],
                                  ["extra"]])
def test_daemon_bad_usage_exits_2(args, tmp_path):
    r = run(args + ["--foreground", "--mountpoint", str(tmp_path / "root")])
    assert r.returncode == 2
    assert r.stderr
    assert not fuse_mounted(tmp_path / "root")


def test_daemon_prints_mount_line_and_creates_dirs(make_umdevd):
    d = make_umdevd()
    assert not d.root.exists() and not d.rundir.exists()  # created by umdevd
    d.start()
    d.stop()
    d.check_output()
    assert d.stdout() == f"umdevd: tree mounted at {d.root} (sys/ inside)\n"


def test_daemon_refuses_a_busy_mountpoint(make_umdevd):
    first = make_umdevd(name="first").start()
    second = make_umdevd(name="second")
    second.root = first.root
    with open(second.stderr_path, "wb") as err:
        r = subprocess.run(second.command(), stdout=subprocess.PIPE, stderr=err, timeout=30)
    assert r.returncode != 0
    assert "already a mount point" in second.stderr()
    assert not SANITIZER_RE.search(second.stderr())
    # the first daemon is unaffected
    assert first.available("mtty-2") == 12
    first.stop()
    first.check_output()


@needs_root
def test_daemon_refuses_when_fuse_is_unavailable(make_umdevd):
    d = make_umdevd()
    # a private mount namespace whose /dev has no fuse device
    script = 'mount -t tmpfs -o mode=0755 none /dev && exec "$@"'
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    with open(d.stderr_path, "wb") as err:
        r = subprocess.run(cmd + d.command(), stdout=subprocess.PIPE, stderr=err, timeout=30)
    assert r.returncode != 0
    assert "FUSE is unavailable" in d.stderr(), d.stderr()
    assert not SANITIZER_RE.search(d.stderr())


def test_daemon_sigterm_with_live_devices_exits_0_and_unmounts(make_umdevd):
    d = make_umdevd().start()
    for t in ("mtty-1", "mtty-2", "mtty-2", "mtty-1"):
        d.create(str(uuid.uuid4()), t)
    assert len(d.devices()) == 4
    d.stop()  # SIGTERM: exit status 0 and no mount left, or it fails
    d.check_output()


def test_daemon_sigint_exits_0(make_umdevd):
    d = make_umdevd().start()
    d.create(str(uuid.uuid4()))
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(30) == 0, d.stderr()
    assert not fuse_mounted(d.root)
    d.check_output()


def test_daemon_sigterm_with_open_handles(make_umdevd):
    d = make_umdevd().start()
    u = str(uuid.uuid4())
    d.create(u)
    fds = [os.open(d.dev_dir(u) / "remove", os.O_WRONLY),
           os.open(d.type_dir("mtty-2") / "create", os.O_WRONLY)]
    try:
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(30) == 0, d.stderr()
    finally:
        for fd in fds:
            os.close(fd)
    if fuse_mounted(d.root):
        lazy_unmount(d.root)
        pytest.fail("tree still mounted after exit")
    d.check_output()


def test_daemon_daemonizes_without_foreground(make_umdevd):
    d = make_umdevd()
    cmd = [c for c in d.command() if c != "--foreground"]
    with open(d.stderr_path, "wb") as err:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=30)
    assert r.returncode == 0, d.stderr()
    assert r.stdout.decode() == f"umdevd: tree mounted at {d.root} (sys/ inside)\n"
    assert fuse_mounted(d.root)  # mounted when the command returns
    pid = int((d.rundir / "umdevd.pid").read_text())
    try:
        assert d.available("mtty-2") == 12
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while fuse_mounted(d.root) or os.path.exists(f"/proc/{pid}"):
            assert time.monotonic() < deadline, "daemon did not stop"
            time.sleep(0.02)
    finally:
        if os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)
        lazy_unmount(d.root)
    assert not (d.rundir / "umdevd.pid").exists()
    d.check_output()


def test_daemon_survives_garbage_writes(umdevd):
    """No client can crash umdevd (STYLE.md §1): junk into every writable file."""
    rng = random.Random(1234)
    u = str(uuid.uuid4())
    umdevd.create(u)
    targets = [umdevd.type_dir(t) / "create" for t in ("mtty-1", "mtty-2")]
    targets += [umdevd.dev_dir(u) / "uevent", umdevd.dev_dir(u) / "remove"]
    vfio = os.listdir(umdevd.dev_dir(u) / "vfio-dev")[0]
    targets.append(umdevd.dev_dir(u) / "vfio-dev" / vfio / "uevent")
    payloads = [b"\0" * 37, b"\xff" * 36, b"%s%n%x" * 8, b"0" * 4096, b"1" * 70000,
                b"\n" * 300, b"-" * 36 + b"\n"]
    payloads += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 200)))
                 for _ in range(40)]
    for p in targets:
        for data in payloads:
            if p.name == "remove" and data.strip(b"\0\n 0") and data[:1] in b"123456789+":
                continue  # would remove the device; covered by test_remove.py
            for off in (0, 4095, 1 << 40):
                try:
                    fd = os.open(p, os.O_WRONLY)
                except OSError:
                    continue
                try:
                    os.pwrite(fd, data, off)
                except OSError:
                    pass
                finally:
                    os.close(fd)
    assert umdevd.proc.poll() is None
    assert umdevd.devices() == [u]
    assert umdevd.available("mtty-2") == 11


def test_create_past_the_fd_limit_is_emfile_and_leaves_nothing(make_umdevd):
    """Issue 10: umdevd logs how many idle mdevs its fd limit allows; past it a create fails
    EMFILE for its writer (M-32: the vfio layer's errno) and nothing of it is left: the
    device count and available_instances are as before, and a remove makes room again."""
    d = make_umdevd(args=["--log-level", "info", "--driver", "mtty:ports=1000,backend=loopback"])
    d.wrapper = ["prlimit", "--nofile=96:96", "--"]  # soft and hard: umdevd cannot raise it
    d.start()
    made = []
    err = 0
    for _ in range(200):
        u = str(uuid.uuid4())
        err = d.create_errno(u, "mtty-1")
        if err:
            break
        made.append(u)
    assert err == errno.EMFILE, errno_name(err)
    assert 10 < len(made) < 96
    before = (d.devices(), d.available("mtty-1"))
    for _ in range(3):  # again and again: still EMFILE, still nothing left behind
        assert d.create_errno(str(uuid.uuid4()), "mtty-1") == errno.EMFILE
    assert (d.devices(), d.available("mtty-1")) == before
    d.remove(made.pop())
    u = str(uuid.uuid4())
    d.create(u, "mtty-1")  # the freed fd is enough for one more
    d.stop()
    assert re.search(r"fd limit: 96 open files, room for about 32 idle mdevs", d.stderr())
    d.check_output()
