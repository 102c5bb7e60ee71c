# SPDX-License-Identifier: MIT
"""vfioN numbering and iommu groups seen through the tree (mdev.md §6.4, §6.7, §9.4)."""
import os
import uuid

import pytest


def vfio_name(umdevd, u):
    names = os.listdir(umdevd.dev_dir(u) / "vfio-dev")
    assert len(names) == 1
    return names[0]


def test_M46_lowest_free_vfio_index(umdevd):
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    umdevd.create(a)
    assert vfio_name(umdevd, a) == "vfio0"
    umdevd.create(b)
    assert vfio_name(umdevd, b) == "vfio1"
    umdevd.remove(a)
    umdevd.create(c)
    assert vfio_name(umdevd, c) == "vfio0"


def test_M48_class_vfio_dev_link_and_uevent(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u)
    n = vfio_name(umdevd, u)
    vdir = umdevd.dev_dir(u) / "vfio-dev" / n
    assert os.path.realpath(umdevd.path(f"class/vfio-dev/{n}")) == str(vdir)
    assert (vdir / "uevent").read_bytes() == f"DEVNAME=vfio/devices/{n}\n".encode()
    assert os.path.realpath(vdir / "device") == str(umdevd.dev_dir(u))
    assert os.path.realpath(vdir / "subsystem") == str(umdevd.path("class/vfio-dev"))
    umdevd.remove(u)
    assert not os.path.lexists(umdevd.path(f"class/vfio-dev/{n}"))


def test_M49_iommu_group_round_trip_and_removal(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u)
    group = os.path.realpath(umdevd.dev_dir(u) / "iommu_group")
    g = os.path.basename(group)
    assert g.isdigit()
    assert group == str(umdevd.path(f"kernel/iommu_groups/{g}"))
    assert os.path.realpath(os.path.join(group, "devices", u)) == str(umdevd.dev_dir(u))
    umdevd.remove(u)
    with pytest.raises(FileNotFoundError):
        os.lstat(umdevd.path(f"kernel/iommu_groups/{g}/devices/{u}"))
    with pytest.raises(FileNotFoundError):
        os.lstat(umdevd.path(f"kernel/iommu_groups/{g}"))


def test_M49_each_device_has_its_own_group(umdevd):
    uuids = [str(uuid.uuid4()) for _ in range(4)]
    for u in uuids:
        umdevd.create(u, "mtty-1")
    groups = {os.path.basename(os.path.realpath(umdevd.dev_dir(u) / "iommu_group"))
              for u in uuids}
    assert len(groups) == 4

# Spec items proved by the tests of this file (their names start with the item):
#   M-46, M-48, M-49
