# SPDX-License-Identifier: MIT
"""umdevd under systemd (issue 12 item 3): systemd/umdevd.service passes `systemd-analyze
verify`; umdevd sends READY=1 once its tree and auto-start devices are up and STOPPING=1 at
shutdown; logs carry syslog priority prefixes under journald; and the unit's sandbox (its
capability bounding set, its system call filter) lets umdevd do all it does. No systemd runs
here as PID 1, so the sandbox is rebuilt from the unit's own lines: setpriv(1) for the
capabilities, strace(1) for the system calls."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from umdevd_fixture import umdevd_path

U1 = "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"
U2 = "3f0c9d2e-7a41-4c55-b1de-98a7c6e5d432"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def unit_text():
    path = os.environ.get("UMDEV_UNIT_IN")
    if not path:
        pytest.fail("UMDEV_UNIT_IN is not set: run the tests through `meson test`")
    return Path(path).read_text().replace("@sbindir@", os.path.dirname(umdevd_path()))


def unit_values(key):
    """Every value of @key= in the unit, in order."""
    return [line.split("=", 1)[1].strip() for line in unit_text().splitlines()
            if line.startswith(key + "=")]


def define(d, uuid, mdev_type, attrs=()):
    conf = {"mdev_type": mdev_type, "start": "auto", "attrs": [{k: v} for k, v in attrs]}
    path = d.mdevctl_config / "mtty" / uuid
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf, indent=2))


def sanitized():
    """Whether umdevd is built with a sanitizer (its runtime makes system calls of its own)."""
    r = subprocess.run(["ldd", umdevd_path()], capture_output=True, text=True)
    return re.search(r"lib(asan|tsan|ubsan)", r.stdout) is not None


def test_unit_passes_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing (Debian's systemd package)")
    unit = tmp_path / "umdevd.service"
    unit.write_text(unit_text())
    # Documentation= names the man pages: verify runs man(1) on each, so give it the built ones
    env, check_man = dict(os.environ), "--man=no"
    built = Path(os.environ.get("UMDEV_MAN_DIR", "/nonexistent"))
    pages = ["umdevd.8", "umdev-exec.1", "umdev-mtty.7"]
    if all((built / p).exists() for p in pages) and shutil.which("man"):
        for p in pages:
            section = tmp_path / "man" / ("man" + p.rsplit(".", 1)[1])
            section.mkdir(parents=True, exist_ok=True)
            shutil.copy(built / p, section / p)
        env["MANPATH"], check_man = str(tmp_path / "man"), "--man=yes"
    r = subprocess.run(["systemd-analyze", "verify", check_man, str(unit)],
                       capture_output=True, text=True, timeout=60, env=env)
    # verify exits 0 on lines it ignores ("Unknown key", "Failed to parse"): they must fail
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r.stderr + r.stdout
    assert unit_values("Type") == ["notify"]
    assert unit_values("ExecStart")[0].split()[0] == umdevd_path()


def test_ready_after_the_auto_start_devices_and_stopping_at_shutdown(make_umdevd, tmp_path):
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    d = make_umdevd()
    define(d, U1, "mtty-2", [("mtty/backend", "loopback")])
    define(d, U2, "mtty-1")
    d.env = dict(os.environ, NOTIFY_SOCKET=path)
    with open(d.stdout_path, "wb") as out, open(d.stderr_path, "wb") as err:
        d.proc = subprocess.Popen(d.command(), stdout=out, stderr=err, env=d.env,
                                  stdin=subprocess.DEVNULL)
    try:
        msg = sock.recv(4096).decode()
        # the first message: by now the tree is mounted and its devices are up
        assert msg.split("\n") == ["READY=1", f"STATUS=serving {d.root}"]
        assert d.devices() == sorted([U1, U2])
        assert (d.dev_dir(U1) / "mtty/backend").read_text() == "loopback\n"
        d.proc.send_signal(signal.SIGTERM)
        msg = sock.recv(4096).decode()
        assert msg.split("\n")[0] == "STOPPING=1"
        assert d.proc.wait(30) == 0
    finally:
        d.kill()
        sock.close()
    d.check_output()


def test_log_lines_carry_syslog_priorities_under_journald(make_umdevd):
    d = make_umdevd(args=["--log-level", "info"])
    define(d, U1, "mtty-9")  # a warning
    d.stderr_path.write_bytes(b"")  # the fixture truncates it: same file, same inode
    st = os.stat(d.stderr_path)
    d.env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    d.expect_log("has no mdev type 'mtty-9'")
    d.start()
    d.stop()
    lines = d.stderr().splitlines()
    assert lines and all(re.match(r"<[0-7]>\S", line) for line in lines), d.stderr()
    assert any(line.startswith("<4>'") and "mtty-9" in line for line in lines)
    assert any(line.startswith("<5>'") and "0 started, 1 failed" in line for line in lines)
    assert any(line.startswith("<6>") for line in lines)
    d.check_output()


def capabilities():
    caps = " ".join(unit_values("CapabilityBoundingSet")).split()
    assert caps and all(c.startswith("CAP_") for c in caps)
    return [c[4:].lower() for c in caps]


@needs_root
def test_the_units_capabilities_are_enough(make_umdevd):
    """Start, auto-start, create, SIGKILL, clear the dead mount, stop: with only the unit's
    capabilities and no_new_privs."""
    caps = capabilities()
    d = make_umdevd(args=["--vfio-socket-group", "daemon"])
    define(d, U1, "mtty-2", [("mtty/backend", "loopback")])
    d.wrapper = ["setpriv", "--no-new-privs", "--inh-caps=-all",
                 "--bounding-set=-all," + ",".join("+" + c for c in caps), "--"]
    d.start()
    assert d.devices() == [U1]
    d.create(U2, "mtty-1")
    socks = list((d.rundir / "vfio/devices").iterdir())
    assert len(socks) == 2 and all(s.stat().st_gid == 1 for s in socks)  # chown: "daemon"
    status = Path(f"/proc/{d.proc.pid}/status").read_text()
    bounding = int(re.search(r"CapBnd:\s*([0-9a-f]+)", status).group(1), 16)
    assert bin(bounding).count("1") == len(caps)  # the sandbox is real
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(30)
    d.start()  # umount2 of the dead mount needs CAP_SYS_ADMIN
    assert d.devices() == [U1]
    d.stop()
    d.check_output()


def syscall_groups():
    """systemd-analyze syscall-filter: {"@group": [names and @groups]}."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"],
                         capture_output=True, text=True, check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif cur is not None and line.strip() and not line.strip().startswith("#"):
            cur.append(line.strip())
    return groups


def allowed_syscalls():
    groups = syscall_groups()
    allowed, todo = set(), " ".join(unit_values("SystemCallFilter")).split()
    assert todo and not any(t.startswith("~") for t in todo)
    while todo:
        item = todo.pop()
        if item.startswith("@"):
            todo.extend(e for e in groups[item] if e not in allowed)
        allowed.add(item)
    return allowed


@needs_root
def test_the_units_system_call_filter_allows_every_call_umdevd_makes(make_umdevd, tmp_path):
    if sanitized():
        pytest.skip("a sanitizer's runtime makes system calls umdevd does not")
    if not shutil.which("strace"):
        pytest.fail("strace is missing (scripts/install-deps.sh installs it)")
    allowed = allowed_syscalls()
    assert {"io_submit", "mount", "umount2", "openat2", "splice"} <= allowed
    trace = tmp_path / "strace"
    d = make_umdevd(args=["--vfio-socket-group", "daemon"])
    define(d, U1, "mtty-2", [("mtty/backend", "loopback")])
    d.wrapper = ["strace", "-f", "-qq", "-o", str(trace)]
    d.start(timeout=60)
    d.create(U2, "mtty-1")
    d.remove(U1)
    daemon = int(Path(f"/proc/{d.proc.pid}/task/{d.proc.pid}/children").read_text().split()[0])
    os.kill(daemon, signal.SIGTERM)  # umdevd, not strace
    assert d.proc.wait(60) == 0, d.stderr()
    d.check_output()
    used = set()
    for line in trace.read_text().splitlines():
        m = re.match(r"\d+\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()", line)
        if m:
            used.add(m.group(1) or m.group(2))
    assert {"mount", "openat2", "io_setup"} <= used  # the trace is real
    assert used - allowed == set(), f"not in SystemCallFilter: {sorted(used - allowed)}"


def test_journal_stream_of_another_file_is_not_the_journal(make_umdevd):
    """JOURNAL_STREAM names the journal's stream by device and inode (systemd.exec(5)): a
    value inherited by a process whose stderr goes elsewhere gives the plain format."""
    d = make_umdevd(args=["--log-level", "info"])
    d.env = dict(os.environ, JOURNAL_STREAM="8:12345")
    d.start()
    d.stop()
    lines = d.stderr().splitlines()
    assert lines and all(line.startswith("umdevd: ") for line in lines), d.stderr()
    d.check_output()
