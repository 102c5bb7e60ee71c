# SPDX-License-Identifier: MIT
"""Debian's stock mdevctl 1.2.0 against umdevd's tree at /sys (mdev.md §7.1, §9.8)."""
import json
import os
import re
import uuid

import pytest

from conftest import Env
from umdevd_fixture import Umdevd

U1 = "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"
U2 = "3f0c9d2e-7a41-4c55-b1de-98a7c6e5d432"


def parse_types(out):
    """`mdevctl types` -> {parent: {type: {field: value}}}."""
    parents, parent, typ = {}, None, None
    for line in out.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            parent = parents.setdefault(line.strip(), {})
        elif indent == 2:
            typ = parent.setdefault(line.strip(), {})
        else:
            key, _, value = line.strip().partition(": ")
            typ[key] = value
    return parents


def types(env):
    r = env.mdevctl("types", check=True)
    return parse_types(r.stdout)


def test_M69_types_lists_mtty_with_both_types(env):
    assert types(env) == {"mtty": {
        "mtty-1": {"Available instances": "24", "Device API": "vfio-pci",
                   "Name": "Single port serial"},
        "mtty-2": {"Available instances": "12", "Device API": "vfio-pci",
                   "Name": "Dual port serial"},
    }}


def test_M70_start_then_list(env):
    env.mdevctl("start", "-u", U1, "-p", "mtty", "-t", "mtty-2", check=True)
    r = env.mdevctl("list", check=True)
    assert r.stdout.splitlines()[0].startswith(f"{U1} mtty mtty-2")
    assert types(env)["mtty"]["mtty-2"]["Available instances"] == "11"
    assert types(env)["mtty"]["mtty-1"]["Available instances"] == "22"
    dump = json.loads(env.mdevctl("list", "--dumpjson", check=True).stdout)
    assert dump == [{"mtty": [{U1: {"mdev_type": "mtty-2", "start": "manual", "attrs": []}}]}]
    # the device mdevctl started is the tree's device
    d = env.d
    assert d.devices() == [U1]
    assert os.path.realpath(d.path(f"bus/mdev/devices/{U1}")) == str(d.dev_dir(U1))
    assert (d.dev_dir(U1) / "vendor/sample_mdev_dev").read_text() == f"This is MDEV {U1}\n"


def test_M70_list_shows_devices_created_through_the_tree(env):
    env.d.create(U1, "mtty-1")
    env.d.create(U2, "mtty-2")
    lines = sorted(line for line in env.mdevctl("list", check=True).stdout.splitlines() if line)
    assert [line.split()[:3] for line in lines] == sorted(
        [[U1, "mtty", "mtty-1"], [U2, "mtty", "mtty-2"]])


def test_M71_start_of_existing_uuid_fails_without_create(env):
    env.mdevctl("start", "-u", U1, "-p", "mtty", "-t", "mtty-2", check=True)
    before = env.d.available("mtty-2")
    r = env.mdevctl("start", "-u", U1, "-p", "mtty", "-t", "mtty-2")
    assert r.returncode != 0
    assert "exists" in r.stderr
    assert env.d.devices() == [U1]
    assert env.d.available("mtty-2") == before


def test_M71_start_of_unknown_type_fails(env):
    r = env.mdevctl("start", "-u", U2, "-p", "mtty", "-t", "mtty-9")
    assert r.returncode != 0
    assert "does not support mdev type" in r.stderr
    assert env.d.devices() == []


def test_M72_stop_removes_and_second_stop_fails(env):
    env.mdevctl("start", "-u", U1, "-p", "mtty", "-t", "mtty-2", check=True)
    env.mdevctl("stop", "-u", U1, check=True)
    assert env.d.devices() == []
    assert not os.path.lexists(env.d.dev_dir(U1))
    assert env.d.available("mtty-2") == 12
    assert env.mdevctl("list", check=True).stdout.strip() == ""
    r = env.mdevctl("stop", "-u", U1)
    assert r.returncode != 0
    assert "No such file or directory" in r.stderr


def test_M72_stop_removes_a_device_created_through_the_tree(env):
    env.d.create(U1, "mtty-1")
    env.mdevctl("stop", "-u", U1, check=True)
    assert env.d.devices() == []
    assert env.d.available("mtty-1") == 24


def open_writes(stderr, name):
    """FUSE requests in libfuse's debug log that open a file called @name for writing."""
    hits = []
    for line in stderr.splitlines():
        m = re.match(r"open flags: (0x[0-9a-f]+) (\S+)", line)  # the request, not the reply
        if m and m.group(2).endswith("/" + name) and int(m.group(1), 16) & 3:
            hits.append(line)
    return hits


def test_M73_no_available_instances_no_create_write(tmp_path):
    # --fuse-debug: libfuse logs every request, the FUSE request log of M-73
    d = Umdevd(tmp_path, args=["--fuse-debug"]).start()
    try:
        env = Env(d, tmp_path / "mdevctl.d")
        for _ in range(12):
            d.create(str(uuid.uuid4()), "mtty-2")
        assert d.available("mtty-2") == 0
        assert len(open_writes(d.stderr(), "create")) == 12  # the log shows create writes
        r = env.mdevctl("start", "-u", U1, "-p", "mtty", "-t", "mtty-2")
        assert r.returncode != 0
        assert "No available instances" in r.stderr
        assert len(open_writes(d.stderr(), "create")) == 12  # and mdevctl added none
        assert U1 not in d.devices()
        d.stop()
        d.check_output()
    finally:
        d.kill()


def test_M74_define_start_stop_undefine(env):
    env.mdevctl("start", "-u", U1, "-p", "mtty", "-t", "mtty-2", check=True)
    env.mdevctl("define", "-u", U1, check=True)
    conf = json.loads((env.config / "mtty" / U1).read_text())
    assert conf["mdev_type"] == "mtty-2"
    defined = env.mdevctl("list", "--defined", check=True).stdout.strip().splitlines()
    assert defined == [f"{U1} mtty mtty-2 manual (active)"]

    env.mdevctl("stop", "-u", U1, check=True)
    assert env.d.devices() == []
    defined = env.mdevctl("list", "--defined", check=True).stdout.strip().splitlines()
    assert defined == [f"{U1} mtty mtty-2 manual"]

    env.mdevctl("start", "-u", U1, check=True)  # parent and type from the definition
    assert env.d.devices() == [U1]
    assert os.path.basename(os.path.realpath(env.d.dev_dir(U1) / "mdev_type")) == "mtty-2"

    env.mdevctl("stop", "-u", U1, check=True)
    env.mdevctl("undefine", "-u", U1, check=True)
    assert not (env.config / "mtty" / U1).exists()
    assert env.mdevctl("list", "--defined", check=True).stdout.strip() == ""


def test_M74_define_by_parent_and_type_then_start(env):
    env.mdevctl("define", "-u", U2, "-p", "mtty", "-t", "mtty-1", check=True)
    assert env.d.devices() == []
    env.mdevctl("start", "-u", U2, check=True)
    assert env.d.devices() == [U2]
    assert env.d.available("mtty-1") == 23
    lines = env.mdevctl("list", check=True).stdout.splitlines()
    assert lines[0].startswith(f"{U2} mtty mtty-1")
    env.mdevctl("stop", "-u", U2, check=True)
    env.mdevctl("undefine", "-u", U2, check=True)
    assert env.d.devices() == []


def test_T14_defined_attr_backend_loopback_applied_at_start(env):
    """mtty.md T-14, §4.2: mdevctl writes a defined device's attributes right after creating it."""
    env.mdevctl("define", "-u", U1, "-p", "mtty", "-t", "mtty-2", check=True)
    env.mdevctl("modify", "-u", U1, "--addattr=mtty/backend", "--value=loopback", check=True)
    conf = json.loads((env.config / "mtty" / U1).read_text())
    assert conf["attrs"] == [{"mtty/backend": "loopback"}]  # persisted in the definition
    assert env.d.devices() == []
    env.mdevctl("start", "-u", U1, check=True)
    assert env.d.devices() == [U1]
    dev = env.d.dev_dir(U1)
    assert (dev / "mtty/backend").read_text() == "loopback\n"  # not the default pty
    assert (dev / "mtty/port0_pty").read_text() == ""  # loopback: no pty
    env.mdevctl("stop", "-u", U1, check=True)
    env.mdevctl("undefine", "-u", U1, check=True)
    assert env.d.devices() == []


@pytest.mark.parametrize("n", [6])
def test_M70_M72_many_devices_round_trip(env, n):
    uuids = sorted(str(uuid.uuid4()) for _ in range(n))
    for i, u in enumerate(uuids):
        env.mdevctl("start", "-u", u, "-p", "mtty", "-t", f"mtty-{1 + i % 2}", check=True)
    listed = sorted(line.split()[0] for line in env.mdevctl("list", check=True).stdout.split("\n")
                    if line.strip())
    assert listed == uuids == env.d.devices()
    for u in uuids:
        env.mdevctl("stop", "-u", u, check=True)
    assert env.d.devices() == []
    assert (env.d.available("mtty-1"), env.d.available("mtty-2")) == (24, 12)

# Spec items proved by the tests of this file (their names start with the item):
#   M-69, M-70, M-71, M-72, M-73, M-74, T-14
