# SPDX-License-Identifier: MIT
"""Filesystem semantics of the tree (mdev.md §6.1, §9.2 M-34, §9.7)."""
import errno
import os
import uuid

import pytest

U1 = "8b5e5a8c-0b1e-4b67-9a3c-2f1d6f0e4a11"


def open_errno(path, flags, mode=0o644):
    try:
        fd = os.open(path, flags, mode)
    except OSError as e:
        return e.errno
    os.close(fd)
    return 0


def test_M34_open_permissions_hold_even_for_root(umdevd):
    t = umdevd.type_dir("mtty-2")
    assert open_errno(t / "create", os.O_RDONLY) == errno.EACCES
    assert open_errno(t / "create", os.O_RDWR) == errno.EACCES
    for name in ("name", "device_api", "available_instances"):
        assert open_errno(t / name, os.O_WRONLY) == errno.EACCES, name
        assert open_errno(t / name, os.O_RDWR) == errno.EACCES, name
    umdevd.create(U1)
    d = umdevd.dev_dir(U1)
    assert open_errno(d / "remove", os.O_RDONLY) == errno.EACCES
    assert open_errno(d / "vendor/sample_mdev_dev", os.O_WRONLY) == errno.EACCES


def test_M65_o_trunc_open_and_truncate_are_accepted(umdevd):
    t = umdevd.type_dir("mtty-2")
    fd = os.open(t / "create", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)  # the mdevctl pattern
    try:
        assert os.write(fd, U1.encode()) == 36
    finally:
        os.close(fd)
    assert umdevd.devices() == [U1]
    before = (t / "available_instances").read_bytes()
    os.truncate(t / "available_instances", 0)
    assert (t / "available_instances").read_bytes() == before == b"11\n"
    fd = os.open(umdevd.dev_dir(U1) / "remove", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        assert os.write(fd, b"1") == 1
    finally:
        os.close(fd)
    assert umdevd.devices() == []


def test_M66_namespace_changes_are_refused(umdevd, tmp_path):
    t = umdevd.type_dir("mtty-2")
    assert open_errno(t / "newfile", os.O_CREAT | os.O_WRONLY) == errno.EACCES
    assert not os.path.lexists(t / "newfile")
    umdevd.create(U1)
    d = umdevd.dev_dir(U1)
    cases = [
        lambda: os.mkdir(t / "newdir"),
        lambda: os.mkdir(d / "newdir"),
        lambda: os.rmdir(t / "devices"),
        lambda: os.unlink(d / "remove"),
        lambda: os.unlink(d / "mdev_type"),
        lambda: os.rename(t / "name", t / "name2"),
        lambda: os.rename(d, d.parent / str(uuid.uuid4())),
        lambda: os.symlink("create", t / "link"),
        lambda: os.link(t / "name", t / "name2"),
        lambda: os.chmod(t / "create", 0o644),
        lambda: os.chown(t / "create", 1, 1),
        lambda: os.utime(t / "name", (0, 0)),
    ]
    for i, op in enumerate(cases):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno == errno.EPERM, f"case {i}: {os.strerror(e.value.errno)}"
    assert sorted(os.listdir(t)) == sorted(
        ["create", "name", "device_api", "available_instances", "devices"])
    assert os.stat(t / "create").st_mode & 0o777 == 0o200
    assert umdevd.devices() == [U1]


def test_M67_one_byte_reads_then_eof_and_pread_past_end(umdevd):
    path = umdevd.type_dir("mtty-1") / "available_instances"
    fd = os.open(path, os.O_RDONLY)
    try:
        got = b""
        while True:
            b = os.read(fd, 1)
            if not b:
                break
            assert len(b) == 1
            got += b
        assert got == b"24\n"
        assert os.pread(fd, 10, 100) == b""
    finally:
        os.close(fd)


def test_M68_fresh_open_sees_new_value(umdevd):
    path = umdevd.type_dir("mtty-2") / "available_instances"
    assert path.read_bytes() == b"12\n"
    umdevd.create(U1)
    assert path.read_bytes() == b"11\n"
    umdevd.remove(U1)
    assert path.read_bytes() == b"12\n"


def test_M68_open_handle_keeps_its_snapshot_until_offset_0(umdevd):
    path = umdevd.type_dir("mtty-2") / "available_instances"
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.read(fd, 1) == b"1"
        umdevd.create(U1)
        assert os.read(fd, 10) == b"2\n"  # rest of the snapshot taken at offset 0 (§6.1)
        assert os.pread(fd, 10, 0) == b"11\n"  # a read at offset 0 regenerates
    finally:
        os.close(fd)

# Spec items proved by the tests of this file (their names start with the item):
#   M-34, M-65, M-66, M-67, M-68
