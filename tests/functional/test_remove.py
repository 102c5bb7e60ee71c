# SPDX-License-Identifier: MIT
"""Remove through the tree and stale handles (mdev.md §6.1, §6.6, §9.3; mtty.md T-5)."""
import errno
import os
import uuid

import pytest

U1 = "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"


def gone(umdevd, u):
    """Every path of mdev @u that must be ENOENT after removal (M-35)."""
    paths = [umdevd.path(f"bus/mdev/devices/{u}"), umdevd.dev_dir(u),
             umdevd.type_dir("mtty-2") / "devices" / u,
             umdevd.path(f"bus/mdev/drivers/mtty/{u}")]
    for p in paths:
        with pytest.raises(FileNotFoundError):
            os.lstat(p)
    return True


def test_M35_remove_restores_available_before_write_returns(umdevd):
    before = umdevd.available("mtty-2")
    umdevd.create(U1)
    assert umdevd.available("mtty-2") == before - 1
    assert umdevd.write_once(umdevd.path(f"bus/mdev/devices/{U1}/remove"), b"1") == 1
    assert umdevd.available("mtty-2") == before
    assert gone(umdevd, U1)
    assert umdevd.devices() == []


@pytest.mark.parametrize("value", [b"1\n", b"2", b"0x1", b"+1", b"0X10", b"010"])
def test_M36_nonzero_values_remove(umdevd, value):
    umdevd.create(U1)
    assert umdevd.write_once(umdevd.dev_dir(U1) / "remove", value) == len(value)
    assert gone(umdevd, U1)


@pytest.mark.parametrize("value", [b"0", b"0\n", b"0x0", b"00"])
def test_M36_zero_succeeds_and_keeps_the_device(umdevd, value):
    umdevd.create(U1)
    assert umdevd.write_once(umdevd.dev_dir(U1) / "remove", value) == len(value)
    assert umdevd.devices() == [U1]
    assert (umdevd.dev_dir(U1) / "remove").exists()


@pytest.mark.parametrize("value", [b"\n", b" 1", b"1 ", b"-1", b"yes", b"08", b"1\n\n",
                                   b"99999999999999999999999", b"0x", b"1x"])
def test_M37_unparsable_values_are_einval(umdevd, value):
    umdevd.create(U1)
    assert umdevd.write_errno(umdevd.dev_dir(U1) / "remove", value) == errno.EINVAL
    assert umdevd.devices() == [U1]
    assert (umdevd.dev_dir(U1) / "remove").exists()


def test_M37_zero_length_write_returns_0(umdevd):
    umdevd.create(U1)
    assert umdevd.write_once(umdevd.dev_dir(U1) / "remove", b"") == 0
    assert umdevd.devices() == [U1]
    assert (umdevd.dev_dir(U1) / "remove").exists()


def test_M39_stale_handles_are_enodev(umdevd):
    umdevd.create(U1)
    d = umdevd.dev_dir(U1)
    remove_fd = os.open(d / "remove", os.O_WRONLY)
    uevent_fd = os.open(d / "uevent", os.O_RDONLY)
    sample_fd = os.open(d / "vendor/sample_mdev_dev", os.O_RDONLY)
    try:
        umdevd.remove(U1)
        with pytest.raises(OSError) as e:
            os.write(remove_fd, b"1")
        assert e.value.errno == errno.ENODEV
        with pytest.raises(OSError) as e:
            os.pread(uevent_fd, 4096, 0)
        assert e.value.errno == errno.ENODEV
        with pytest.raises(OSError) as e:
            os.pread(sample_fd, 4096, 0)
        assert e.value.errno == errno.ENODEV
    finally:
        for fd in (remove_fd, uevent_fd, sample_fd):
            os.close(fd)


def test_M39_stale_handle_does_not_act_on_a_reused_uuid(umdevd):
    umdevd.create(U1)
    fd = os.open(umdevd.dev_dir(U1) / "remove", os.O_WRONLY)
    try:
        umdevd.remove(U1)
        umdevd.create(U1)  # same UUID, new device
        with pytest.raises(OSError) as e:
            os.write(fd, b"1")
        assert e.value.errno == errno.ENODEV
        assert umdevd.devices() == [U1]
    finally:
        os.close(fd)


def test_T5_remove_restores_each_types_value(umdevd):
    first = str(uuid.uuid4())
    umdevd.create(first, "mtty-1")
    before = (umdevd.available("mtty-1"), umdevd.available("mtty-2"))
    umdevd.create(U1, "mtty-2")
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) != before
    umdevd.remove(U1)
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == before
    umdevd.remove(first)
    assert (umdevd.available("mtty-1"), umdevd.available("mtty-2")) == (24, 12)


def test_M45_uuid_reusable_on_other_type_after_remove(umdevd):
    umdevd.create(U1, "mtty-2")
    umdevd.remove(U1)
    umdevd.create(U1, "mtty-1")
    assert os.path.basename(os.path.realpath(umdevd.dev_dir(U1) / "mdev_type")) == "mtty-1"

# Spec items proved by the tests of this file (their names start with the item):
#   M-35, M-36, M-37, M-39, M-45, T-5
