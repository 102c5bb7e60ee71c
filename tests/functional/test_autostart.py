# SPDX-License-Identifier: MIT
"""umdevd starts mdevctl's auto-start definitions at start-up (issue 12 item 1).

The definitions are written here as mdevctl 1.2.0 writes them (`mdevctl define`:
<config>/<parent>/<uuid>, serde_json's pretty JSON); tests/interop/test_autostart.py does the
same with the real mdevctl."""
import json
import os
import signal
import subprocess
import time

from umdevd_fixture import fuse_mounted

U1 = "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"
U2 = "3f0c9d2e-7a41-4c55-b1de-98a7c6e5d432"
U3 = "c0ffee00-1111-4222-8333-444455556666"
U4 = "d1d2d3d4-aaaa-4bbb-8ccc-dddddddddddd"
U5 = "e5e5e5e5-0000-4000-8000-000000000005"
U6 = "f6f6f6f6-0000-4000-8000-000000000006"
U7 = "07070707-0000-4000-8000-000000000007"


def define(d, parent, uuid, mdev_type, start="auto", attrs=()):
    """Write @uuid's definition into @d's mdevctl configuration directory, as mdevctl does."""
    conf = {"mdev_type": mdev_type, "start": start, "attrs": [{k: v} for k, v in attrs]}
    path = d.mdevctl_config / parent / uuid
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf, indent=2))
    return path


def backend(d, uuid):
    return (d.dev_dir(uuid) / "mtty/backend").read_text()


def test_autostart_starts_auto_definitions_with_their_attributes(make_umdevd):
    d = make_umdevd(args=["--driver", "mtty:parents=2"])
    define(d, "mtty", U1, "mtty-2", attrs=[("mtty/backend", "loopback")])
    define(d, "mtty", U2, "mtty-1")
    define(d, "mtty", U3, "mtty-1", start="manual")       # mdevctl start starts it, not umdevd
    define(d, "mtty1", U4, "mtty-2", attrs=[("mtty/backend", "pty"),
                                           ("mtty/backend", "loopback")])  # in order
    d.start()
    assert d.devices() == sorted([U1, U2, U4])
    assert backend(d, U1) == "loopback\n"
    assert (d.dev_dir(U1) / "mtty/port0_pty").read_text() == ""
    assert backend(d, U2) == "pty\n"
    assert (d.dev_dir(U2) / "mtty/port0_pty").read_text().startswith("/dev/pts/")
    assert (d.dev_dir(U4, parent="mtty1") / "mtty/backend").read_text() == "loopback\n"
    assert os.path.basename(os.path.realpath(d.dev_dir(U4, parent="mtty1") / "mdev_type")) == \
        "mtty-2"
    assert d.available("mtty-2") == 12 - 1 - 1  # U1 (2 ports) and U2 (1 port) of 24
    assert d.available("mtty-2", parent="mtty1") == 11
    d.stop()
    d.check_output()
    assert "3 started, 0 failed" in d.stderr()


def test_autostart_devices_are_up_when_the_daemonized_umdevd_returns(make_umdevd):
    d = make_umdevd()
    define(d, "mtty", U1, "mtty-2", attrs=[("mtty/backend", "loopback")])
    cmd = [c for c in d.command() if c != "--foreground"]
    with open(d.stderr_path, "wb") as err:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=60)
    assert r.returncode == 0, d.stderr()
    pid = int((d.rundir / "umdevd.pid").read_text())
    try:
        assert d.devices() == [U1]  # before readiness, not after
        assert backend(d, U1) == "loopback\n"
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while os.path.exists(f"/proc/{pid}") or fuse_mounted(d.root):
            assert time.monotonic() < deadline, "umdevd did not stop"
            time.sleep(0.01)
    d.check_output()


def test_autostart_failures_are_logged_by_file_and_the_others_start(make_umdevd):
    # in name order: the good ones take 4 of 5 ports; U3 and U4 each take the last one and
    # must give it back when their attribute fails, or the next fails with ENOSPC instead;
    # U6 (mtty-2) finds 1 port left
    d = make_umdevd(args=["--driver", "mtty:ports=5"])
    cfg = d.mdevctl_config
    bad_json = cfg / "mtty" / U1
    bad_json.parent.mkdir(parents=True)
    bad_json.write_text('{"mdev_type": "mtty-2", "start": "auto", "attrs": [')
    no_type = define(d, "mtty", U2, "mtty-9")
    refused = define(d, "mtty", U3, "mtty-1", attrs=[("mtty/backend", "loopback"),
                                                      ("mtty/backend", "bogus")])
    missing = define(d, "mtty", U4, "mtty-1", attrs=[("mtty/nonesuch", "1")])
    escape = define(d, "mtty", U5, "mtty-1", attrs=[("../../../../../../tmp/x", "1")])
    good = define(d, "mtty", "a0000000-0000-4000-8000-00000000000a", "mtty-2",
                  attrs=[("mtty/backend", "loopback")])
    good1 = define(d, "mtty", "b0000000-0000-4000-8000-00000000000b", "mtty-1")
    good2 = define(d, "mtty", "b1000000-0000-4000-8000-00000000000b", "mtty-1")
    exhausted = define(d, "mtty", U6, "mtty-2")  # after the three good ones: no ports left
    other = define(d, "0000:00:02.0", U7, "i915-GVTg_V5_4")  # the kernel's parent, not ours
    (cfg / "mtty" / "not-a-uuid").write_text("{}")  # ignored, as mdevctl does
    for f in (bad_json, no_type, refused, missing, escape, exhausted):
        d.expect_log(f"'{f}': ")
    d.start()
    assert d.devices() == sorted([good.name, good1.name, good2.name])
    assert backend(d, good.name) == "loopback\n"
    assert d.available("mtty-1") == 1
    log = d.stderr()

    def line(f):
        lines = [ln for ln in log.splitlines() if f"'{f}'" in ln]
        assert len(lines) == 1, log
        return lines[0]

    assert "umdevd: warning: " in line(bad_json) and "bad JSON" in line(bad_json)
    assert "has no mdev type 'mtty-9'" in line(no_type)
    assert "attribute 'mtty/backend'" in line(refused) and "'bogus'" in line(refused)
    assert "Invalid argument" in line(refused) and "removing the mdev" in line(refused)
    assert "no such attribute" in line(missing)
    assert "not a file of the device directory" in line(escape)
    assert "No space left on device" in line(exhausted)
    assert "umdevd: notice: " in line(other) and "not registered with umdevd" in line(other)
    assert "3 started, 6 failed, 1 of other parents" in log
    d.stop()
    d.check_output()


def test_autostart_after_sigkill_brings_back_exactly_the_defined_devices(make_umdevd):
    d = make_umdevd()
    define(d, "mtty", U1, "mtty-2", attrs=[("mtty/backend", "loopback")])
    define(d, "mtty", U2, "mtty-1")
    d.start()
    d.create(U3, "mtty-1")  # not defined: must not come back
    d.remove(U2)            # defined: comes back
    assert d.devices() == sorted([U1, U3])
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(30)
    d.kill()  # clears the dead mount
    d.start()
    assert d.devices() == sorted([U1, U2])
    assert backend(d, U1) == "loopback\n"
    assert backend(d, U2) == "pty\n"
    d.stop()
    d.check_output()
