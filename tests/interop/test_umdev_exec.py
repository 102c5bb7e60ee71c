# SPDX-License-Identifier: MIT
"""umdev-exec: the tree at the kernel's paths, the rest of /sys intact (mdev.md §9.8)."""
import os
import subprocess

from conftest import umdev_exec_path


def test_tree_appears_at_kernel_paths(env):
    env.d.create("8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11", "mtty-2")
    script = ("set -e; readlink /sys/class/mdev_bus/mtty; "
              "cat /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/available_instances; "
              "ls /sys/bus/mdev/devices; "
              "basename $(realpath /sys/bus/mdev/devices/*/mdev_type); "
              "basename $(realpath /sys/bus/mdev/devices/*/iommu_group); "
              "ls /sys/kernel/iommu_groups; ls /sys/class/vfio-dev; "
              "realpath /sys/bus/mdev/devices/*")
    r = env.run("sh", "-c", script, check=True)
    lines = r.stdout.splitlines()
    assert lines[0] == "../../devices/virtual/mtty/mtty"
    assert lines[1] == "11"
    assert lines[2] == "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"
    assert lines[3] == "mtty-2"
    assert lines[4] in lines[5].split()
    assert lines[-2] == "vfio0"
    assert lines[-1] == "/sys/devices/virtual/mtty/mtty/8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"


def test_rest_of_sys_stays_usable(env):
    r = env.run("sh", "-c", "ls /sys/class/net; echo --; ls /sys; echo --; "
                "cat /sys/kernel/uevent_seqnum >/dev/null && echo seqnum-ok; "
                "ls /sys/devices/virtual", check=True)
    net, top, rest = r.stdout.split("--\n")
    assert sorted(net.split()) == sorted(os.listdir("/sys/class/net"))
    assert set(os.listdir("/sys")) <= set(top.split())
    assert "seqnum-ok" in rest
    assert set(os.listdir("/sys/devices/virtual")) | {"mtty"} <= set(rest.split()[1:])
    # the real interfaces resolve through the merged /sys/devices
    r = env.run("sh", "-c", "cat /sys/class/net/lo/address", check=True)
    assert r.stdout.strip() == "00:00:00:00:00:00"


def test_host_sys_and_config_untouched(env):
    host_conf = sorted(os.listdir("/etc/mdevctl.d")) if os.path.isdir("/etc/mdevctl.d") else None
    r = env.run("sh", "-c", "ls /etc/mdevctl.d/scripts.d", config=False, check=True)
    assert r.returncode == 0
    args = [umdev_exec_path(), "--mountpoint", str(env.d.root), "--private-config", "--",
            "sh", "-c", "touch /etc/mdevctl.d/marker && ls /etc/mdevctl.d /etc/mdevctl.d/scripts.d"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "marker" in r.stdout and "callouts" in r.stdout and "notifiers" in r.stdout
    if host_conf is not None:
        assert sorted(os.listdir("/etc/mdevctl.d")) == host_conf
    assert not os.path.exists("/etc/mdevctl.d/marker")
    assert not any(line.split()[4].startswith("/tmp/umdev-exec")
                   for line in open("/proc/self/mountinfo"))


def test_refuses_without_a_mounted_tree(tmp_path):
    empty = tmp_path / "root"
    (empty / "sys/class/mdev_bus").mkdir(parents=True)  # looks right, but nothing mounted
    r = subprocess.run([umdev_exec_path(), "--mountpoint", str(empty), "--", "true"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "no umdevd tree is mounted" in r.stderr
    r = subprocess.run([umdev_exec_path(), "--mountpoint", str(tmp_path / "nothing"), "--",
                        "true"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0


def test_exit_status_and_usage(env):
    assert env.run("sh", "-c", "exit 7").returncode == 7
    r = subprocess.run([umdev_exec_path(), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("Usage: umdev-exec")
    r = subprocess.run([umdev_exec_path()], capture_output=True, text=True)
    assert r.returncode == 2
