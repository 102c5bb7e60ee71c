# SPDX-License-Identifier: MIT
"""Registration and tree shape of the mtty parent (mdev.md §6.2, §6.3, §9.1; mtty.md §3)."""
import os
import stat


def test_M1_mdev_bus_link_text_and_target(umdevd):
    link = umdevd.path("class/mdev_bus/mtty")
    assert os.path.islink(link)
    assert os.readlink(link) == "../../devices/virtual/mtty/mtty"
    assert os.path.realpath(link) == str(umdevd.path("devices/virtual/mtty/mtty"))


def test_M2_parent_lists_exactly_the_two_types(umdevd):
    types = umdevd.path("devices/virtual/mtty/mtty/mdev_supported_types")
    assert sorted(os.listdir(types)) == ["mtty-1", "mtty-2"]
    for t in ("mtty-1", "mtty-2"):
        assert stat.S_ISDIR(os.lstat(types / t).st_mode)  # mdevctl wants real directories


def test_M3_mtty_type_dir_lists_exactly_its_files(umdevd):
    for t in ("mtty-1", "mtty-2"):
        assert sorted(os.listdir(umdevd.type_dir(t))) == sorted(
            ["create", "name", "device_api", "available_instances", "devices"])


def test_M4_modes_owner_and_size(umdevd):
    t = umdevd.type_dir("mtty-2")
    expect = {"create": 0o200, "name": 0o444, "device_api": 0o444,
              "available_instances": 0o444}
    for name, mode in expect.items():
        st = os.lstat(t / name)
        assert stat.S_ISREG(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == mode, name
        assert st.st_size == 4096, name
        assert (st.st_uid, st.st_gid) == (0, 0), name
    dirs = [t, t / "devices", umdevd.path("class/mdev_bus"), umdevd.path("bus/mdev/devices"),
            umdevd.path("devices/virtual/mtty/mtty"),
            umdevd.path("devices/virtual/mtty/mtty/mdev_supported_types")]
    for d in dirs:
        st = os.lstat(d)
        assert stat.S_ISDIR(st.st_mode), d
        assert stat.S_IMODE(st.st_mode) == 0o755, d
        assert (st.st_uid, st.st_gid) == (0, 0), d


def test_M5_T1_name_files(umdevd):
    assert (umdevd.type_dir("mtty-1") / "name").read_bytes() == b"Single port serial\n"
    assert (umdevd.type_dir("mtty-2") / "name").read_bytes() == b"Dual port serial\n"


def test_M6_T1_device_api_and_no_description(umdevd):
    for t in ("mtty-1", "mtty-2"):
        assert (umdevd.type_dir(t) / "device_api").read_bytes() == b"vfio-pci\n"
        assert not os.path.lexists(umdevd.type_dir(t) / "description")


def test_M7_T2_fresh_available_instances(umdevd):
    assert (umdevd.type_dir("mtty-1") / "available_instances").read_bytes() == b"24\n"
    assert (umdevd.type_dir("mtty-2") / "available_instances").read_bytes() == b"12\n"


def test_M12_parent_uevent_subsystem_and_class_link(umdevd):
    parent = umdevd.path("devices/virtual/mtty/mtty")
    uevent = parent / "uevent"
    assert stat.S_ISREG(os.lstat(uevent).st_mode)
    assert uevent.read_bytes() == b""
    assert os.path.realpath(parent / "subsystem") == str(umdevd.path("class/mtty"))
    assert os.path.realpath(umdevd.path("class/mtty/mtty")) == str(parent)


def test_static_skeleton_exists_when_mounted(umdevd):
    # mdev.md §6.2: these exist, possibly empty, whenever the filesystem is mounted
    for d in ("class/mdev_bus", "bus/mdev/devices", "bus/mdev/drivers", "kernel/iommu_groups",
              "class/vfio-dev"):
        assert umdevd.path(d).is_dir(), d
    assert os.listdir(umdevd.path("bus/mdev/devices")) == []
    assert umdevd.path("bus/mdev/drivers/mtty").is_dir()

# Spec items proved by the tests of this file (their names start with the item):
#   M-1, M-2, M-3, M-4, M-5, M-6, M-7, M-12, T-1, T-2
