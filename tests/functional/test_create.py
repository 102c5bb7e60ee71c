# SPDX-License-Identifier: MIT
"""Create through the tree (mdev.md §6.4, §6.5, §9.2; mtty.md §3, §4.1, §11 T-3, T-4, T-11)."""
import errno
import os
import uuid

import pytest

U1 = "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"
U2 = "3f0c9d2e-7a41-4c55-b1de-98a7c6e5d432"

BASE_DEV_FILES = {"remove", "mdev_type", "driver", "subsystem", "uevent", "iommu_group",
                  "vfio-dev"}
MTTY_DEV_GROUPS = {"vendor", "mtty"}  # mtty.md §4.1


def new_uuid():
    return str(uuid.uuid4())


def test_M14_create_with_newline_returns_37(umdevd):
    create = umdevd.type_dir("mtty-2") / "create"
    assert umdevd.write_once(create, U1 + "\n") == 37
    assert os.path.realpath(umdevd.path(f"bus/mdev/devices/{U1}")) == str(umdevd.dev_dir(U1))


def test_M15_create_without_newline_returns_36(umdevd):
    assert umdevd.write_once(umdevd.type_dir("mtty-2") / "create", U1) == 36
    assert umdevd.dev_dir(U1).is_dir()


def test_M16_upper_case_creates_lower_case_dir(umdevd):
    assert umdevd.write_once(umdevd.type_dir("mtty-2") / "create", U1.upper() + "\n") == 37
    assert umdevd.devices() == [U1]
    assert umdevd.dev_dir(U1).is_dir()
    assert not os.path.lexists(umdevd.dev_dir(U1.upper()))


@pytest.mark.parametrize("data", [
    U1[:35],                   # 35 bytes
    U1 + "\r\n",               # 38 bytes
    "{" + U1 + "}",            # braces
    U1.replace("-", ""),       # no hyphens
    " " + U1,                  # leading space
    U1[:-1] + "g",             # not hex
    "urn:uuid:" + U1,          # prefix
    U1[:8] + "_" + U1[9:],     # hyphen replaced
], ids=["35", "crlf", "braces", "nohyphens", "space", "g", "urn", "underscore"])
def test_M17_malformed_uuid_is_einval(umdevd, data):
    before = (umdevd.available("mtty-1"), umdevd.available("mtty-2"))
    assert umdevd.write_errno(umdevd.type_dir("mtty-2") / "create", data) == errno.EINVAL
    assert umdevd.devices() == []
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == before


def test_M18_37th_byte_is_ignored(umdevd):
    assert umdevd.write_once(umdevd.type_dir("mtty-2") / "create", U1 + "x") == 37
    assert umdevd.devices() == [U1]


def test_M19_write_of_5000_bytes_is_einval(umdevd):
    data = (U1 + "\n").encode() + b"\n" * (5000 - 37)
    assert len(data) == 5000
    assert umdevd.write_errno(umdevd.type_dir("mtty-2") / "create", data) == errno.EINVAL
    assert umdevd.devices() == []
    assert umdevd.available("mtty-2") == 12


def test_M20_same_uuid_again_is_eexist_on_both_types(umdevd):
    umdevd.create(U1, "mtty-2")
    sample = (umdevd.dev_dir(U1) / "vendor/sample_mdev_dev").read_bytes()
    before = (umdevd.available("mtty-1"), umdevd.available("mtty-2"))
    assert umdevd.create_errno(U1, "mtty-2") == errno.EEXIST
    assert umdevd.create_errno(U1, "mtty-1") == errno.EEXIST
    # the existing device is untouched; the fixture checks nothing was logged at warning level
    assert umdevd.devices() == [U1]
    assert os.path.basename(os.path.realpath(umdevd.dev_dir(U1) / "mdev_type")) == "mtty-2"
    assert (umdevd.dev_dir(U1) / "vendor/sample_mdev_dev").read_bytes() == sample
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == before


def test_M21_upper_case_of_existing_uuid_is_eexist(umdevd):
    umdevd.create(U1)
    assert umdevd.create_errno(U1.upper()) == errno.EEXIST
    assert umdevd.devices() == [U1]


def test_M22_device_dir_lists_exactly_its_nodes(umdevd):
    umdevd.create(U1)
    assert set(os.listdir(umdevd.dev_dir(U1))) == BASE_DEV_FILES | MTTY_DEV_GROUPS
    link = umdevd.type_dir("mtty-2") / "devices" / U1
    assert os.path.realpath(link) == str(umdevd.dev_dir(U1))
    assert os.readlink(link) == f"../../../{U1}"


def test_M23_mdev_type_link(umdevd):
    umdevd.create(U1)
    link = umdevd.dev_dir(U1) / "mdev_type"
    assert os.readlink(link) == "../mdev_supported_types/mtty-2"
    assert os.path.basename(os.path.realpath(link)) == "mtty-2"
    assert os.path.realpath(link) == str(
        umdevd.path("devices/virtual/mtty/mtty/mdev_supported_types/mtty-2"))


def test_M24_uevent_driver_and_subsystem(umdevd):
    umdevd.create(U1)
    d = umdevd.dev_dir(U1)
    assert (d / "uevent").read_bytes() == b"DRIVER=mtty\n"
    assert os.path.realpath(d / "driver") == str(umdevd.path("bus/mdev/drivers/mtty"))
    assert os.path.realpath(d / "subsystem") == str(umdevd.path("bus/mdev"))
    assert os.path.realpath(umdevd.path(f"bus/mdev/drivers/mtty/{U1}")) == str(d)


def test_M25_T11_sample_mdev_dev(umdevd):
    umdevd.create(U1)
    f = umdevd.dev_dir(U1) / "vendor/sample_mdev_dev"
    assert f.read_bytes() == f"This is MDEV {U1}\n".encode()
    st = os.stat(f)
    assert st.st_mode & 0o777 == 0o444


def test_M26_twelve_dual_port_devices_exhaust_the_budget(umdevd):
    uuids = [new_uuid() for _ in range(12)]
    for u in uuids:
        umdevd.create(u, "mtty-2")
    assert (umdevd.type_dir("mtty-2") / "available_instances").read_bytes() == b"0\n"
    assert (umdevd.type_dir("mtty-1") / "available_instances").read_bytes() == b"0\n"
    extra = new_uuid()
    assert umdevd.create_errno(extra, "mtty-2") == errno.ENOSPC
    assert umdevd.create_errno(extra, "mtty-1") == errno.ENOSPC
    assert not os.path.lexists(umdevd.path(f"bus/mdev/devices/{extra}"))
    umdevd.remove(uuids[0])
    assert (umdevd.type_dir("mtty-2") / "available_instances").read_bytes() == b"1\n"
    assert (umdevd.type_dir("mtty-1") / "available_instances").read_bytes() == b"2\n"


def test_T3_available_after_one_of_each_type(umdevd):
    umdevd.create(U1, "mtty-2")
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == (22, 11)
    umdevd.create(U2, "mtty-1")
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == (21, 10)


def test_T4_one_port_left_refuses_dual_accepts_single(umdevd):
    for _ in range(11):
        umdevd.create(new_uuid(), "mtty-2")
    umdevd.create(new_uuid(), "mtty-1")  # 23 ports used
    before = umdevd.devices()
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == (1, 0)
    u = new_uuid()
    assert umdevd.create_errno(u, "mtty-2") == errno.ENOSPC
    assert umdevd.devices() == before
    assert not os.path.lexists(umdevd.dev_dir(u))
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == (1, 0)
    umdevd.create(u, "mtty-1")
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == (0, 0)


def test_M33_failed_create_leaves_uuid_free(umdevd):
    for _ in range(12):
        umdevd.create(new_uuid(), "mtty-2")
    assert umdevd.create_errno(U1, "mtty-2") == errno.ENOSPC
    umdevd.remove(umdevd.devices()[0])
    umdevd.create(U1, "mtty-2")
    assert U1 in umdevd.devices()

# Spec items proved by the tests of this file (their names start with the item):
#   M-14, M-15, M-16, M-17, M-18, M-19, M-20, M-21, M-22, M-23, M-24, M-25, M-26, M-33,
#   T-3, T-4, T-11
