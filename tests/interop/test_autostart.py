# SPDX-License-Identifier: MIT
"""`mdevctl define --auto` survives umdevd's death (issue 12 item 1): Debian's stock mdevctl
defines devices through umdev-exec --config-dir DIR, umdevd runs with --mdevctl-config DIR, is
killed with SIGKILL and started again, and exactly the defined auto-start devices come back,
with their attributes."""
import signal

from conftest import Env
from umdevd_fixture import Umdevd

U1 = "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"
U2 = "3f0c9d2e-7a41-4c55-b1de-98a7c6e5d432"
U3 = "c0ffee00-1111-4222-8333-444455556666"
U4 = "d1d2d3d4-aaaa-4bbb-8ccc-dddddddddddd"
U5 = "e5e5e5e5-0000-4000-8000-000000000005"


def active(env):
    """`mdevctl list` -> sorted [uuid, parent, type]."""
    out = env.mdevctl("list", check=True).stdout
    return sorted(line.split()[:3] for line in out.splitlines() if line.strip())


def test_defined_auto_devices_come_back_after_sigkill(tmp_path):
    config = tmp_path / "mdevctl.d"
    d = Umdevd(tmp_path, args=["--driver", "mtty:parents=2"])
    d.mdevctl_config = config  # the directory umdev-exec --config-dir binds at /etc/mdevctl.d
    d.start()
    try:
        env = Env(d, config)
        env.mdevctl("define", "--auto", "-u", U1, "-p", "mtty", "-t", "mtty-2", check=True)
        env.mdevctl("modify", "-u", U1, "--addattr=mtty/backend", "--value=loopback",
                    check=True)
        env.mdevctl("define", "--auto", "-u", U2, "-p", "mtty1", "-t", "mtty-1", check=True)
        env.mdevctl("define", "-u", U3, "-p", "mtty", "-t", "mtty-1", check=True)  # manual
        env.mdevctl("start", "-u", U4, "-p", "mtty", "-t", "mtty-1", check=True)   # transient
        env.mdevctl("start", "-u", U1, check=True)
        env.mdevctl("start", "-u", U3, check=True)
        env.d.create(U5, "mtty-2")  # through the tree, not mdevctl
        assert [u for u, _, _ in active(env)] == sorted([U1, U3, U4, U5])

        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(30)
        d.start()  # on the dead mount SIGKILL left behind (umdevd clears it)

        assert active(env) == sorted([[U1, "mtty", "mtty-2"], [U2, "mtty1", "mtty-1"]])
        assert (d.dev_dir(U1) / "mtty/backend").read_text() == "loopback\n"
        assert (d.dev_dir(U2, parent="mtty1") / "mtty/backend").read_text() == "pty\n"
        defined = env.mdevctl("list", "--defined", check=True).stdout.strip().splitlines()
        assert sorted(defined) == sorted([f"{U1} mtty mtty-2 auto (active)",
                                          f"{U2} mtty1 mtty-1 auto (active)",
                                          f"{U3} mtty mtty-1 manual"])
        # and mdevctl still drives them: stop one, start it again with its attribute
        env.mdevctl("stop", "-u", U1, check=True)
        env.mdevctl("start", "-u", U1, check=True)
        assert (d.dev_dir(U1) / "mtty/backend").read_text() == "loopback\n"
        d.stop()
        d.check_output()
    finally:
        d.kill()
