# SPDX-License-Identifier: MIT
"""The mbochs module (issue 11) through the tree and the vfio-user test client: types and the
video memory budget, PCI config space and BARs, BAR0 mapped through the fd REGION_INFO hands
out, the dispi registers of BAR2, the `mode` file and screen.png showing exactly what the
client wrote. UMDEV_MBOCHS_MODULE names the built mbochs.so."""
import errno
import mmap
import os
import struct
import uuid
from pathlib import Path

import pytest

from pngread import png_decode
from vfio_client import Client

MBOCHS_SO = Path(os.environ.get("UMDEV_MBOCHS_MODULE", "/nonexistent/mbochs.so"))
MB = 1024 * 1024
VBE = 0x500  # BAR2: dispi register i at VBE + 2 * i
ID, XRES, YRES, BPP, ENABLE, BANK, VIRT_WIDTH, VIRT_HEIGHT, X_OFF, Y_OFF, MEM64K = range(11)


@pytest.fixture
def mbochs(make_umdevd):
    return make_umdevd(args=["--driver", f"{MBOCHS_SO}:memory=24"]).start()


def dev(d, u):
    return d.sys / "bus/mdev/devices" / u


def connect(d, u):
    names = os.listdir(dev(d, u) / "vfio-dev")
    assert len(names) == 1
    return Client(d.rundir / "vfio/devices" / names[0]).version()


def vbe_write(c, index, value):
    c.write(2, VBE + 2 * index, struct.pack("<H", value))


def vbe_read(c, index):
    return struct.unpack("<H", c.read(2, VBE + 2 * index, 2))[0]


def test_types_and_budget(mbochs):
    d = mbochs  # memory=24: 6 small, 1 medium, 0 large
    avail = {t: d.available(f"mbochs-{t}", "mbochs") for t in ("small", "medium", "large")}
    assert avail == {"small": 6, "medium": 1, "large": 0}
    assert (d.type_dir("mbochs-small", "mbochs") / "name").read_text().startswith("mbochs small")
    m = str(uuid.uuid4())
    d.create(m, "mbochs-medium", "mbochs")
    assert d.available("mbochs-small", "mbochs") == 2
    assert d.available("mbochs-medium", "mbochs") == 0
    u = str(uuid.uuid4())
    assert d.create_errno(u, "mbochs-medium", "mbochs") == errno.ENOSPC
    assert not dev(d, u).exists()  # nothing changed
    assert d.available("mbochs-small", "mbochs") == 2
    d.remove(m)
    assert d.available("mbochs-medium", "mbochs") == 1
    assert d.available("mbochs-small", "mbochs") == 6
    d.stop()
    d.check_output()


def test_config_space_and_bars(mbochs):
    d = mbochs
    u = str(uuid.uuid4())
    d.create(u, "mbochs-small", "mbochs")
    c = connect(d, u)
    assert c.cfg(0, 2) == 0x1234 and c.cfg(2, 2) == 0x1111
    assert c.cfg(0x2C, 2) == 0x1AF4 and c.cfg(0x2E, 2) == 0x1100
    assert c.cfg(0x08, 4) == 0x03800001  # class 0x0380, prog-if 0, revision 1
    assert c.cfg(0x10, 4) == 0x8  # BAR0: 32-bit memory, prefetchable
    c.cfg_write(0x10, 4, 0xFFFFFFFF)
    assert c.cfg(0x10, 4) == (~(4 * MB - 1) & 0xFFFFFFFF) | 0x8
    assert c.cfg(0x18, 4) == 0  # BAR2: 32-bit memory, not prefetchable
    c.cfg_write(0x18, 4, 0xFFFFFFFF)
    assert c.cfg(0x18, 4) == 0xFFFFF000
    assert c.region_info(0)[1] == 4 * MB
    assert c.region_info(2)[1] == 4096
    assert c.region_info(1)[1] == 0
    # dispi registers: ID and video memory after reset; EDID header
    assert vbe_read(c, ID) == 0xB0C5
    assert vbe_read(c, MEM64K) == 64
    assert c.read(2, 0, 8) == b"\x00\xff\xff\xff\xff\xff\xff\x00"
    vbe_write(c, XRES, 640)
    assert vbe_read(c, XRES) == 640
    c.reset()  # VBE back to power-on, video memory kept
    assert vbe_read(c, XRES) == 0 and vbe_read(c, ID) == 0xB0C5
    c.close()
    d.remove(u)
    d.stop()
    d.check_output()


def test_mapped_pixels_are_what_screen_png_shows(mbochs):
    d = mbochs
    u = str(uuid.uuid4())
    d.create(u, "mbochs-small", "mbochs")
    attrs = dev(d, u) / "mbochs"
    assert (attrs / "mode").read_text() == "disabled\n"
    with pytest.raises(OSError) as e:
        (attrs / "screen.png").read_bytes()
    assert e.value.errno == errno.ENODATA
    c = connect(d, u)
    flags, size, areas, fds = c.region_info_full(0)
    assert flags & 0x4 and flags & 0x8  # MMAP, CAPS
    assert size == 4 * MB and areas == [(0, 4 * MB)] and len(fds) == 1
    vram = mmap.mmap(fds[0], 4 * MB, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    os.close(fds[0])
    w, h = 96, 80
    stride = 128 * 4  # virtual width 128
    x0, y0 = 8, 2  # panned
    base = y0 * stride + x0 * 4

    def colour(x, y):
        return ((x * 5) & 0xFF, (y * 3) & 0xFF, (x ^ y) & 0xFF)

    vram[:] = b"\x11" * (4 * MB)  # outside the visible part
    for y in range(h):
        row = b"".join(bytes((b, g, r, 0)) for r, g, b in (colour(x, y) for x in range(w)))
        vram[base + y * stride:base + y * stride + w * 4] = row
    for index, value in ((XRES, w), (YRES, h), (BPP, 32), (VIRT_WIDTH, 128), (X_OFF, x0),
                         (Y_OFF, y0), (ENABLE, 1)):
        vbe_write(c, index, value)
    assert (attrs / "mode").read_text() == f"{w}x{h} 32bpp stride {stride} offset {base}\n"
    assert (attrs / "screen.png").stat().st_size == 0
    pw, ph, rows = png_decode((attrs / "screen.png").read_bytes())
    assert (pw, ph) == (w, h)
    for y in range(h):
        assert rows[y] == [colour(x, y) for x in range(w)], f"row {y}"
    # the pixels went through the mapping: no REGION_WRITE to BAR0
    assert (attrs / "bar0_writes").read_text() == "0\n"
    # a REGION_WRITE lands in the same memory and is counted
    c.write(0, base, bytes((0, 0, 255, 0)))  # top-left pixel red
    assert vram[base:base + 4] == bytes((0, 0, 255, 0))
    assert c.read(0, base + 4, 4) == vram[base + 4:base + 8]
    assert (attrs / "bar0_writes").read_text() == "1\n"
    rows = png_decode((attrs / "screen.png").read_bytes())[2]
    assert rows[0][0] == (255, 0, 0) and rows[0][1] == colour(1, 0)
    vram.close()
    c.close()
    d.remove(u)
    d.stop()
    d.check_output()
