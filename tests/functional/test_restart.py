# SPDX-License-Identifier: MIT
"""A crash leaves nothing that blocks a restart (issue 12 item 2): after SIGKILL the tree is a
dead FUSE mount (ENOTCONN) and the pid file and vfio sockets remain; the next umdevd clears
them and starts. A mountpoint or run directory that a live umdevd serves is still refused."""
import ctypes
import errno
import os
import signal
import subprocess
import time

import pytest

from umdevd_fixture import fuse_mounted, lazy_unmount, SANITIZER_RE

U1 = "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"


def sigkill(d):
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(30)


def wait_dead(path, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ENOTCONN:
                return
            if e.errno != errno.ECONNABORTED:  # a request in flight when it died
                raise
        assert time.monotonic() < deadline, f"{path} is still served"
        time.sleep(0.01)


def test_restart_after_sigkill_clears_the_dead_mount_and_stale_files(make_umdevd):
    d = make_umdevd().start()
    d.create(U1)
    old_pid = d.proc.pid
    assert int((d.rundir / "umdevd.pid").read_text()) == old_pid
    sigkill(d)
    # what the crash left: a dead mount, the pid file, the vfio socket
    assert fuse_mounted(d.root)
    with pytest.raises(OSError) as e:
        os.stat(d.root)
    assert e.value.errno == errno.ENOTCONN
    assert (d.rundir / "umdevd.pid").exists()
    assert (d.rundir / "vfio/devices/vfio0").exists()
    assert (d.rundir / f"mtty/{U1}/port0").is_symlink()  # names a pty number now free
    (d.rundir / "umdevd.pid").write_text("1\n")  # a live pid: not what makes it stale
    keep = d.rundir / "mtty/not-a-device-dir"
    keep.mkdir()
    (keep / "file").write_text("x")  # not a port link: left alone, and so is its directory

    d.start()
    assert not (d.rundir / f"mtty/{U1}").exists()  # the dead daemon's pty links are gone
    assert (keep / "file").read_text() == "x"
    assert d.devices() == []
    assert d.available("mtty-2") == 12
    assert int((d.rundir / "umdevd.pid").read_text()) == d.proc.pid != old_pid
    assert not (d.rundir / "vfio/devices/vfio0").exists()
    assert f"notice: '{d.root}': unmounted the dead tree of a umdevd that was killed" in \
        d.stderr()
    d.create(U1)  # the same UUID: nothing of the dead daemon's device is left
    assert (d.rundir / "vfio/devices/vfio0").exists()
    d.stop()
    d.check_output()
    assert not fuse_mounted(d.root)
    assert not (d.rundir / "umdevd.pid").exists()


def test_restart_clears_the_dead_mount_for_a_daemonizing_umdevd(make_umdevd):
    d = make_umdevd().start()
    sigkill(d)
    cmd = [c for c in d.command() if c != "--foreground"]
    with open(d.stderr_path, "wb") as err:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=60)
    assert r.returncode == 0, d.stderr()
    pid = int((d.rundir / "umdevd.pid").read_text())
    try:
        assert d.available("mtty-2") == 12
    finally:
        os.kill(pid, signal.SIGKILL)  # and once more
    wait_dead(d.root)  # not our child: wait until the kill took effect
    d.start()
    assert d.available("mtty-1") == 24
    d.stop()
    d.check_output()


def test_restart_refuses_a_mountpoint_a_live_umdevd_serves(make_umdevd):
    first = make_umdevd(name="first").start()
    first.create(U1)
    second = make_umdevd(name="second")
    second.root = first.root
    with open(second.stderr_path, "wb") as err:
        r = subprocess.run(second.command(), stdout=subprocess.PIPE, stderr=err, timeout=30)
    assert r.returncode == 1
    assert "already a mount point (is another umdevd running?)" in second.stderr()
    assert "unmounted" not in second.stderr()
    assert not SANITIZER_RE.search(second.stderr())
    assert first.devices() == [U1]  # untouched
    first.stop()
    first.check_output()


def test_restart_refuses_a_run_directory_a_live_umdevd_uses(make_umdevd):
    first = make_umdevd(name="first").start()
    first.create(U1)
    sock = first.rundir / "vfio/devices/vfio0"
    assert sock.exists()
    second = make_umdevd(name="second")
    second.rundir = first.rundir
    with open(second.stderr_path, "wb") as err:
        r = subprocess.run(second.command(), stdout=subprocess.PIPE, stderr=err, timeout=30)
    assert r.returncode == 1
    assert (f"run directory '{first.rundir}' is in use by umdevd pid {first.proc.pid}"
            in second.stderr()), second.stderr()
    assert not fuse_mounted(second.root)
    assert sock.exists()  # its vfio socket was not taken for a stale one
    assert int((first.rundir / "umdevd.pid").read_text()) == first.proc.pid
    first.stop()
    first.check_output()


def dead_fuse_mount(path, fsname):
    """Mount a FUSE file system of type fuse.@fsname at @path and close its connection: the
    dead mount another FUSE daemon's crash leaves behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/dev/fuse", os.O_RDWR)
    try:
        opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
        if libc.mount(fsname.encode(), str(path).encode(), f"fuse.{fsname}".encode(), 0,
                      opts) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    finally:
        os.close(fd)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: mount(2)")
def test_restart_leaves_a_dead_mount_that_is_not_umdevds_alone(make_umdevd):
    d = make_umdevd()
    d.root.mkdir()
    dead_fuse_mount(d.root, "other")
    try:
        with pytest.raises(OSError) as e:
            os.stat(d.root)
        assert e.value.errno == errno.ENOTCONN
        with open(d.stderr_path, "wb") as err:
            r = subprocess.run(d.command(), stdout=subprocess.PIPE, stderr=err, timeout=30)
        assert r.returncode == 1
        assert (f"mountpoint '{d.root}' is a dead mount of 'other' (fuse.other), not a umdev "
                "tree: unmount it first") in d.stderr(), d.stderr()
        assert fuse_mounted(d.root)  # left as it was
    finally:
        lazy_unmount(d.root)


def test_restart_clears_a_dead_mount_named_by_a_relative_path(make_umdevd):
    d = make_umdevd()
    absolute = d.command
    d.command = lambda: [c if c != str(d.root) else "umdevd-root/" for c in absolute()]
    d.wrapper = ["env", "-C", str(d.base)]  # run in the mount root's parent directory
    d.start()
    sigkill(d)
    wait_dead(d.root)
    d.start()
    assert d.available("mtty-2") == 12
    assert f"'{d.root}': unmounted the dead tree" in d.stderr()
    d.stop()
    d.check_output()
