# SPDX-License-Identifier: MIT
"""A stock QEMU 11 guest on an umdev mbochs card (issue 11, "Stock guest").

The guest kernel's own bochs DRM driver (with its modules from the chroot's kernel package,
loaded from the initramfs) binds the card; the guest fills /dev/fb0 with colour bars through
BAR0, which QEMU maps from the memfd umdevd offers; the host reads mbochs/screen.png and checks
every pixel. mbochs/bar0_writes counts REGION_WRITE messages to BAR0 during the run: 0, since
the guest's pixel writes go straight to the mapping.
"""
import os
import re
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "qemu"))
import harness  # noqa: E402
from pngread import png_decode  # noqa: E402
from umdevd_fixture import Umdevd  # noqa: E402

MBOCHS_SO = os.environ.get("UMDEV_MBOCHS_MODULE", "/nonexistent/mbochs.so")
QEMU_EXPECTED = [re.compile(r"warning: vfio .*: Could not enable error recovery for the device")]
W, H = 800, 600  # mbochs-small's EDID mode, which the bochs driver picks
BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0),
        (0, 0, 255), (0, 0, 0)]


def bar(x):
    return BARS[x * len(BARS) // W]


def bars_raw():
    """The picture as XRGB8888 bytes, what the guest writes to /dev/fb0."""
    row = b"".join(bytes((b, g, r, 0)) for r, g, b in (bar(x) for x in range(W)))
    return row * H


def guard(fn):
    try:
        return fn()
    except harness.HarnessError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def chroot():
    try:
        return harness.sid_chroot()
    except harness.HarnessError as e:
        pytest.fail(str(e), pytrace=False)


def test_guest_bochs_driver_draws_colour_bars_that_screen_png_shows(tmp_path, chroot):
    d = Umdevd(tmp_path, args=["--driver", MBOCHS_SO]).start()
    u = str(uuid.uuid4())
    dev = d.create(u, "mbochs-small", "mbochs")
    names = os.listdir(dev / "vfio-dev")
    files = guard(lambda: harness.guest_modules(chroot,
                                                "kernel/drivers/gpu/drm/tiny/bochs.ko.xz"))
    files["bars.raw"] = bars_raw()
    initrd = harness.build_initramfs(chroot, tmp_path / "initramfs.cpio.gz", files)
    vm = harness.Vm(chroot, tmp_path, initrd, [d.rundir / "vfio/devices" / names[0]], daemon=d)
    try:
        guard(vm.start)
        out = guard(lambda: vm.run(
            "for m in /data/*.ko; do insmod $m || exit 1; done; "
            "for i in $(seq 100); do [ -e /dev/fb0 ] && break; sleep 0.1; done; "
            "cat /sys/class/graphics/fb0/virtual_size /sys/class/graphics/fb0/stride; "
            "basename $(readlink /sys/bus/pci/devices/*/driver) | grep bochs"))
        assert out == ["800,600", "3200", "bochs-drm"], out
        before = int((dev / "mbochs/bar0_writes").read_text())
        t0 = time.monotonic()
        guard(lambda: vm.run("echo 0 > /sys/class/graphics/fbcon/cursor_blink; "
                             "cat /data/bars.raw > /dev/fb0"))
        fill_s = time.monotonic() - t0
        writes = int((dev / "mbochs/bar0_writes").read_text()) - before
        assert (dev / "mbochs/mode").read_text() == "800x600 32bpp stride 3200 offset 0\n"
        w, h, rows = png_decode((dev / "mbochs/screen.png").read_bytes())
        assert (w, h) == (W, H)
        for y in range(H):
            assert rows[y] == [bar(x) for x in range(W)], f"row {y}"
        print(f"\nguest fill of {W}x{H}x4 bytes: {fill_s:.2f} s, {writes} REGION_WRITE to BAR0")
        assert writes == 0
        guard(vm.poweroff)
        bad = [line for line in vm.qemu_stderr().splitlines()
               if line.strip() and not any(r.search(line) for r in QEMU_EXPECTED)]
        assert not bad, "unexpected QEMU stderr:\n" + "\n".join(bad)
    finally:
        vm.close()
    d.remove(u)
    d.stop()
    d.check_output()
