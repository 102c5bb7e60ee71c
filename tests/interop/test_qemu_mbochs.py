# SPDX-License-Identifier: MIT
"""A stock QEMU 11 guest on an umdev mbochs card (issue 11, "Stock guest").

The guest kernel's own bochs DRM driver (with its modules from the chroot's kernel package,
loaded from the initramfs) binds the card; the guest fills /dev/fb0 with colour bars through
BAR0, which QEMU maps from the memfd umdevd offers; the host reads mbochs/screen.png and checks
every pixel. mbochs/bar0_writes counts REGION_WRITE messages to BAR0 during the run: 0, since
the guest's pixel writes go straight to the mapping. A guest reboot (QEMU's DEVICE_RESET turns
the display off) leaves the card usable: the driver binds again and a second picture shows. The
card removed under the running guest: umdevd and QEMU live on, the guest still answers.
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


def bar(x, order=1):
    return BARS[::order][x * len(BARS) // W]


def bars_raw(order=1):
    """The picture as XRGB8888 bytes, what the guest writes to /dev/fb0; @order -1 is the
    bars in reverse."""
    row = b"".join(bytes((b, g, r, 0)) for r, g, b in (bar(x, order) for x in range(W)))
    return row * H


def bind_and_fill(vm, dev, picture, order):
    """Load the bochs driver in the guest, check it bound the card, fill /dev/fb0 with
    @picture (a file in the initramfs' /data) and check screen.png shows it pixel for pixel.
    Returns (seconds the fill took, REGION_WRITE messages to BAR0 meanwhile)."""
    out = guard(lambda: vm.run(
        "for m in /data/*.ko; do insmod $m || exit 1; done; "
        "for i in $(seq 100); do [ -e /dev/fb0 ] && break; sleep 0.1; done; "
        "cat /sys/class/graphics/fb0/virtual_size /sys/class/graphics/fb0/stride; "
        "basename $(readlink /sys/bus/pci/devices/*/driver) | grep bochs"))
    assert out == ["800,600", "3200", "bochs-drm"], out
    before = int((dev / "mbochs/bar0_writes").read_text())
    t0 = time.monotonic()
    guard(lambda: vm.run("echo 0 > /sys/class/graphics/fbcon/cursor_blink; "
                         f"cat /data/{picture} > /dev/fb0"))
    fill_s = time.monotonic() - t0
    writes = int((dev / "mbochs/bar0_writes").read_text()) - before
    assert (dev / "mbochs/mode").read_text() == "800x600 32bpp stride 3200 offset 0\n"
    w, h, rows = png_decode((dev / "mbochs/screen.png").read_bytes())
    assert (w, h) == (W, H)
    for y in range(H):
        assert rows[y] == [bar(x, order) for x in range(W)], f"row {y}"
    return fill_s, writes


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


def test_guest_bochs_driver_draws_what_screen_png_shows_across_reboot_and_removal(tmp_path,
                                                                              chroot):
    d = Umdevd(tmp_path, args=["--driver", MBOCHS_SO]).start()
    u = str(uuid.uuid4())
    dev = d.create(u, "mbochs-small", "mbochs")
    names = os.listdir(dev / "vfio-dev")
    files = guard(lambda: harness.guest_modules(chroot,
                                                "kernel/drivers/gpu/drm/tiny/bochs.ko.xz"))
    files["bars.raw"] = bars_raw()
    files["reversed.raw"] = bars_raw(-1)
    initrd = harness.build_initramfs(chroot, tmp_path / "initramfs.cpio.gz", files)
    vm = harness.Vm(chroot, tmp_path, initrd, [d.rundir / "vfio/devices" / names[0]],
                    reboot=True, daemon=d)
    try:
        guard(vm.start)
        fill_s, writes = bind_and_fill(vm, dev, "bars.raw", 1)
        print(f"\nguest fill of {W}x{H}x4 bytes: {fill_s:.2f} s, {writes} REGION_WRITE to BAR0")
        assert writes == 0
        bad = [line for line in vm.qemu_stderr().splitlines()
               if line.strip() and not any(r.search(line) for r in QEMU_EXPECTED)]
        assert not bad, "unexpected QEMU stderr:\n" + "\n".join(bad)

        # reboot: DEVICE_RESET turns the display off (VBE registers); the card works again
        guard(lambda: vm.begin("reboot -f"))
        guard(lambda: vm.wait_boot(2))
        assert (dev / "mbochs/mode").read_text() == "disabled\n"
        fill_s, writes = bind_and_fill(vm, dev, "reversed.raw", -1)
        assert writes == 0

        # the card removed under the running guest: both sides live on
        d.remove(u)
        assert d.devices() == [] and d.available("mbochs-small", "mbochs") == 64
        assert d.proc.poll() is None and vm.alive()
        out = guard(lambda: vm.run("cat /data/bars.raw > /dev/fb0; echo alive", timeout=60,
                                   check=False))
        assert "alive" in out[1], out
        guard(vm.poweroff)
        print("QEMU stderr after removal:\n" + vm.qemu_stderr())
    finally:
        vm.close()
    d.stop()
    d.check_output()
