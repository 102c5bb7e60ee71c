# SPDX-License-Identifier: MIT
"""mtty as a PCI 16550A card over vfio-user, against the real umdevd (mtty.md, vfio-user.md).

The vfio-user client is vfio_client.py, written from the byte layouts of vfio-user.md §6-§8
rather than from the server's headers. Tests are named after the checklist items they prove.
"""
import errno
import os
import select
import struct
import termios
import time
import uuid

import pytest

from vfio_client import (ACTION_TRIGGER, ACTION_UNMASK, CONFIG, DATA_EVENTFD, DATA_NONE, INTX, MSI,
                         Client, VfioError, ev_wait, eventfd)

# UART offsets (<linux/serial_reg.h>)
RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7


def vfio_socket(d, u):
    names = os.listdir(d.dev_dir(u) / "vfio-dev")
    assert len(names) == 1 and names[0].startswith("vfio")
    return d.rundir / "vfio/devices" / names[0]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def open_slave(d, u, port=0):
    path = (d.dev_dir(u) / f"mtty/port{port}_pty").read_text().strip()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    return fd


def read_exact(fd, n, timeout=2.0):
    out = b""
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                out += os.read(fd, n - len(out))
            except BlockingIOError:
                pass
    return out


def stats(d, u):
    return dict((k, int(v)) for k, v in (line.split() for line in
                                          (d.dev_dir(u) / "mtty/stats").read_text().splitlines()))


@pytest.fixture
def dev(umdevd):
    """A fresh mtty-2 in pty mode with a negotiated client (mtty.md §11 setup)."""
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-2")
    c = Client(vfio_socket(umdevd, u)).version()
    yield umdevd, u, c
    c.close()


# ---- host-side files (§4) ----

def test_T8_T9_pty_paths_and_symlinks(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-2")
    p0 = (umdevd.dev_dir(u) / "mtty/port0_pty").read_text()
    p1 = (umdevd.dev_dir(u) / "mtty/port1_pty").read_text()
    assert p0.endswith("\n") and p1.endswith("\n") and p0 != p1
    for n, p in enumerate((p0, p1)):
        assert p.startswith("/dev/pts/") and os.path.exists(p.strip())
        link = umdevd.rundir / f"mtty/{u}/port{n}"
        assert os.readlink(link) == p.strip()
    assert (umdevd.rundir / "mtty" / u).stat().st_mode & 0o777 == 0o755


def test_T8_mtty1_has_only_port0_pty(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-1")
    assert (umdevd.dev_dir(u) / "mtty/port0_pty").read_text().startswith("/dev/pts/")
    assert not (umdevd.dev_dir(u) / "mtty/port1_pty").exists()


def test_T10_fresh_slave_is_raw_115200(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-1")
    fd = open_slave(umdevd, u)
    try:
        iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
        assert not lflag & (termios.ICANON | termios.ECHO)
        assert not iflag & termios.ICRNL and not oflag & termios.OPOST
        assert cflag & termios.CSIZE == termios.CS8
        assert ispeed == ospeed == termios.B115200
    finally:
        os.close(fd)


def test_T11_sample_mdev_dev(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-1")
    assert (umdevd.dev_dir(u) / "vendor/sample_mdev_dev").read_text() == f"This is MDEV {u}\n"


def test_T12_switch_to_loopback_hangs_up_the_slave(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-2")
    b = umdevd.dev_dir(u) / "mtty/backend"
    assert b.read_text() == "pty\n"
    fd = open_slave(umdevd, u)
    try:
        assert umdevd.write_once(b, b"loopback") == 8
        assert b.read_text() == "loopback\n"
        assert (umdevd.dev_dir(u) / "mtty/port0_pty").read_bytes() == b""
        assert not os.path.lexists(umdevd.rundir / f"mtty/{u}/port0")
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(1000)[0][1] & select.POLLHUP
        try:
            assert os.read(fd, 10) == b""
        except OSError as e:
            assert e.errno == errno.EIO  # hung-up slave: EOF or EIO
    finally:
        os.close(fd)
    # back to pty: new paths, the same value twice changes nothing
    assert umdevd.write_once(b, b"pty\n") == 4
    p0 = (umdevd.dev_dir(u) / "mtty/port0_pty").read_text()
    assert p0.startswith("/dev/pts/")
    assert umdevd.write_once(b, b"pty") == 3
    assert (umdevd.dev_dir(u) / "mtty/port0_pty").read_text() == p0


def test_T13_backend_einval_and_ebusy(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-2")
    b = umdevd.dev_dir(u) / "mtty/backend"
    p0 = (umdevd.dev_dir(u) / "mtty/port0_pty").read_text()
    for bad in (b"serial", b"pty x", b"pty\n\n", b"loopback "):
        assert umdevd.write_errno(b, bad) == errno.EINVAL
    assert b.read_text() == "pty\n"
    c = Client(vfio_socket(umdevd, u)).version()
    try:
        assert umdevd.write_errno(b, b"loopback") == errno.EBUSY
        assert umdevd.write_errno(b, b"pty") == errno.EBUSY
    finally:
        c.close()
    assert (umdevd.dev_dir(u) / "mtty/port0_pty").read_text() == p0
    # after the disconnect the write succeeds (teardown may take a moment)
    deadline = time.monotonic() + 2
    while umdevd.write_errno(b, b"loopback") == errno.EBUSY and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b.read_text() == "loopback\n"


def test_T15_stats_count_tx_and_survive_reset(dev):
    d, u, c = dev
    for ch in b"abc":
        c.set_reg(0, THR, ch)
    s = stats(d, u)
    assert s["port0_tx_bytes"] == 3 and s["port0_tx_dropped"] == 3  # nobody attached
    assert s["port1_tx_bytes"] == 0
    c.reset()
    assert stats(d, u)["port0_tx_bytes"] == 3
    assert set(s) == {"irq_signals"} | {f"port{n}_{k}" for n in (0, 1) for k in
                                         ("tx_bytes", "tx_dropped", "rx_bytes", "rx_overruns")}


# ---- info and config space (§6) ----

def test_T16_T17_T18_device_region_irq_info(dev):
    d, u, c = dev
    assert c.device_info() == (16, 0x3, 9, 5)
    assert c.region_info(CONFIG) == (0x3, 256)
    assert c.region_info(0) == (0x3, 8)
    assert c.region_info(1) == (0x3, 8)
    for i in (2, 3, 4, 5, 6, 8):
        assert c.region_info(i) == (0, 0)
    with pytest.raises(VfioError) as e:
        c.region_info(9)
    assert e.value.errno == errno.EINVAL
    assert [c.irq_info(i) for i in range(5)] == [(0x7, 1), (0x9, 1), (0x1, 0), (0x9, 0),
                                                 (0x9, 1)]
    with pytest.raises(VfioError) as e:
        c.irq_info(5)
    assert e.value.errno == errno.EINVAL


def test_T17_mtty1_region1_is_empty(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-1")
    c = Client(vfio_socket(umdevd, u)).version()
    try:
        assert c.region_info(1) == (0, 0)
        with pytest.raises(VfioError) as e:
            c.read(1, 0, 1)
        assert e.value.errno == errno.EINVAL  # T-74
        c.cfg_write(0x14, 4, 0xFFFFFFFF)
        assert c.cfg(0x14, 4) == 0  # T-22
    finally:
        c.close()


def power_on_table(nr_ports=2):
    t = bytearray(256)
    struct.pack_into("<HHHH", t, 0, 0x4348, 0x3253, 0x0001, 0x0210)
    t[8:12] = bytes([0x10, 0x02, 0x00, 0x07])
    struct.pack_into("<I", t, 0x10, 1)
    if nr_ports == 2:
        struct.pack_into("<I", t, 0x14, 1)
    struct.pack_into("<HH", t, 0x2C, 0x4348, 0x3253)
    t[0x34] = 0x50
    t[0x3D] = 0x01
    for o in (0x40, 0x44, 0x48, 0x4C):
        t[o] = 0x23
    t[0x43] = 0x80
    t[0x50] = 0x05
    t[0x60:0x6F] = b"PCI Serial/UART"
    return bytes(t)


def test_T19_T20_config_power_on(dev):
    d, u, c = dev
    assert c.read(CONFIG, 0, 256) == power_on_table()
    assert c.cfg(0x00, 4) == 0x32534348
    assert c.cfg(0x08, 4) == 0x07000210
    assert c.cfg(0x2C, 4) == 0x32534348


def test_T21_T22_T23_T25_config_writes(dev):
    d, u, c = dev
    for bar in (0x10, 0x14):
        c.cfg_write(bar, 4, 0xFFFFFFFF)
        assert c.cfg(bar, 4) == 0xFFFFFFF9
        c.cfg_write(bar, 4, 0x0000C0F3)
        assert c.cfg(bar, 4) == 0x0000C0F1
    for off in (0x18, 0x1C, 0x20, 0x24, 0x30):
        c.cfg_write(off, 4, 0xFFFFFFFF)
        assert c.cfg(off, 4) == 0
    c.cfg_write(0x04, 2, 0xFFFF)
    assert c.cfg(0x04, 2) == 0x0401
    c.cfg_write(0x04, 2, 0)
    assert c.cfg(0x04, 2) == 0
    c.cfg_write(0x06, 2, 0xFFFF)
    assert c.cfg(0x06, 2) == 0x0210
    c.cfg_write(0x52, 2, 0xFFFF)
    assert c.cfg(0x52, 2) == 0x0001
    c.cfg_write(0x54, 4, 0xFFFFFFFF)
    assert c.cfg(0x54, 4) == 0xFFFFFFFC
    c.reset()  # T-69
    assert c.read(CONFIG, 0, 256) == power_on_table()


# ---- registers through the BARs (§6.3-§6.5) ----

def test_T29_T73_power_on_registers_and_width(dev):
    d, u, c = dev
    for port in (0, 1):
        assert [c.reg(port, o) for o in range(1, 8)] == [0, 1, 0, 0, 0x60, 0xB0, 0]
    for n in (2, 4):
        with pytest.raises(VfioError) as e:
            c.read(0, 0, n)
        assert e.value.errno == errno.EINVAL
    with pytest.raises(VfioError) as e:
        c.read(0, 8, 1)
    assert e.value.errno == errno.EINVAL


# ---- pty data path (§5.2, §5.3) and interrupts (§7) ----

def test_T58_guest_to_host(dev):
    d, u, c = dev
    fd = open_slave(d, u)
    try:
        for ch in b"hello":
            c.set_reg(0, THR, ch)
            assert c.reg(0, LSR) == 0x60
        assert read_exact(fd, 5) == b"hello"
    finally:
        os.close(fd)


def test_T59_host_to_guest_with_intx(dev):
    d, u, c = dev
    efd = eventfd()
    try:
        c.set_irqs(INTX, ACTION_TRIGGER | DATA_EVENTFD, fds=[efd])
        c.set_reg(0, FCR, 0x01)
        c.set_reg(0, IER, 0x01)
        fd = open_slave(d, u)
        try:
            os.write(fd, b"ping\r")
            assert ev_wait(efd, 1.0) >= 1
            got = b""
            deadline = time.monotonic() + 1
            while len(got) < 5 and time.monotonic() < deadline:
                if c.reg(0, LSR) & 1:
                    got += bytes([c.reg(0, RBR)])
                else:
                    time.sleep(0.01)
            assert got == b"ping\r"
            assert stats(d, u)["port0_rx_bytes"] == 5
        finally:
            os.close(fd)
    finally:
        os.close(efd)


def test_T50_T51_intx_thre_automask_unmask(dev):
    d, u, c = dev
    efd = eventfd()
    try:
        c.set_irqs(INTX, ACTION_TRIGGER | DATA_EVENTFD, fds=[efd])
        c.set_reg(0, FCR, 0x01)
        c.set_reg(0, IER, 0x02)
        assert ev_wait(efd, 1.0) == 1
        assert c.cfg(0x06, 2) & 0x08  # Status[3] = C
        c.set_reg(0, THR, 0x41)  # THRE again, but masked
        assert ev_wait(efd, 0.1) == 0
        c.set_irqs(INTX, ACTION_UNMASK | DATA_NONE)
        assert ev_wait(efd, 1.0) == 1  # IIR still shows the source
        assert c.reg(0, IIR) == 0xC2
        assert c.reg(0, IIR) == 0xC1
        c.set_irqs(INTX, ACTION_UNMASK | DATA_NONE)
        assert ev_wait(efd, 0.1) == 0  # T-51
        assert not c.cfg(0x06, 2) & 0x08
    finally:
        os.close(efd)


def test_T52_intx_disable_holds_the_line(dev):
    d, u, c = dev
    efd = eventfd()
    try:
        c.set_irqs(INTX, ACTION_TRIGGER | DATA_EVENTFD, fds=[efd])
        c.cfg_write(0x04, 2, 0x0401)
        c.set_reg(0, IER, 0x02)
        c.set_irqs(INTX, ACTION_UNMASK | DATA_NONE)
        assert ev_wait(efd, 0.1) == 0
        assert c.cfg(0x06, 2) & 0x08
        c.cfg_write(0x04, 2, 0x0001)
        assert ev_wait(efd, 1.0) == 1
    finally:
        os.close(efd)


def test_T53_T54_msi_edges(dev):
    d, u, c = dev
    efd = eventfd()
    try:
        c.set_reg(0, IER, 0x02)  # THRE pending, nothing installed (T-57)
        c.set_irqs(MSI, ACTION_TRIGGER | DATA_EVENTFD, fds=[efd])
        assert ev_wait(efd, 1.0) == 1  # T-54
        c.set_reg(0, IER, 0x00)
        c.set_reg(0, FCR, 0x01)
        c.set_reg(0, IER, 0x01)
        fd = open_slave(d, u)
        try:
            os.write(fd, b"a")
            assert ev_wait(efd, 1.0) == 1
            os.write(fd, b"b")
            assert ev_wait(efd, 0.3) == 0  # C stayed true: no edge
            deadline = time.monotonic() + 1
            while stats(d, u)["port0_rx_bytes"] < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert c.reg(0, RBR) == ord("a") and c.reg(0, RBR) == ord("b")
            os.write(fd, b"c")
            assert ev_wait(efd, 1.0) == 1
        finally:
            os.close(fd)
    finally:
        os.close(efd)


def test_T55_msi_while_intx_is_einval(dev):
    d, u, c = dev
    e1, e2 = eventfd(), eventfd()
    try:
        c.set_irqs(INTX, ACTION_TRIGGER | DATA_EVENTFD, fds=[e1])
        with pytest.raises(VfioError) as e:
            c.set_irqs(MSI, ACTION_TRIGGER | DATA_EVENTFD, fds=[e2])
        assert e.value.errno == errno.EINVAL
        with pytest.raises(VfioError) as e:
            c.set_irqs(MSI, ACTION_UNMASK | DATA_NONE)
        assert e.value.errno == errno.ENOTTY
    finally:
        os.close(e1)
        os.close(e2)


def test_T60_unattached_bytes_are_dropped(dev):
    d, u, c = dev
    for i in range(100):
        c.set_reg(0, THR, i)
        assert c.reg(0, LSR) == 0x60
    assert stats(d, u)["port0_tx_dropped"] == 100
    fd = open_slave(d, u)
    try:
        for ch in b"SEEN":
            c.set_reg(0, THR, ch)
        assert read_exact(fd, 100, timeout=0.5) == b"SEEN"
    finally:
        os.close(fd)


def test_T62_host_input_never_overruns(dev):
    d, u, c = dev
    c.set_reg(0, FCR, 0x01)
    fd = open_slave(d, u)
    data = bytes((i * 7) & 0xFF for i in range(4096))
    try:
        os.set_blocking(fd, True)
        os.write(fd, data)
        time.sleep(1)
        s = stats(d, u)
        assert s["port0_rx_bytes"] == 16 and s["port0_rx_overruns"] == 0
        got = bytearray()
        deadline = time.monotonic() + 20
        while len(got) < len(data) and time.monotonic() < deadline:
            if c.reg(0, LSR) & 1:
                got.append(c.reg(0, RBR))
        assert bytes(got) == data
    finally:
        os.close(fd)


def test_T63_mcr_loop_keeps_bytes_off_the_pty(dev):
    d, u, c = dev
    c.set_reg(0, FCR, 0x01)
    c.set_reg(0, MCR, 0x10)
    fd = open_slave(d, u)
    try:
        os.write(fd, b"host")
        c.set_reg(0, THR, ord("x"))
        assert c.reg(0, RBR) == ord("x")
        time.sleep(0.3)
        assert not c.reg(0, LSR) & 1  # host bytes stay in the pty
        assert read_exact(fd, 1, timeout=0.2) == b""
        c.set_reg(0, MCR, 0x00)
        deadline = time.monotonic() + 1
        while not c.reg(0, LSR) & 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert c.reg(0, RBR) == ord("h")
    finally:
        os.close(fd)


def pty_keeps_parenb():
    """Some kernels (6.18 here) refuse PARENB on ptys: tcsetattr clears it."""
    import pty
    m, s = pty.openpty()
    try:
        a = termios.tcgetattr(m)
        a[2] |= termios.PARENB | termios.CSTOPB
        termios.tcsetattr(m, termios.TCSANOW, a)
        return bool(termios.tcgetattr(s)[2] & termios.PARENB)
    except termios.error:
        return False
    finally:
        os.close(m)
        os.close(s)


def test_T33_termios_reflection(dev):
    d, u, c = dev
    fd = open_slave(d, u)
    try:
        for off, v in ((LCR, 0x83), (DLL, 0x0C), (DLM, 0x00), (LCR, 0x03)):
            c.set_reg(0, off, v)
        cflag, ispeed = termios.tcgetattr(fd)[2], termios.tcgetattr(fd)[4]
        assert ispeed == termios.B9600
        assert cflag & termios.CSIZE == termios.CS8
        assert not cflag & (termios.PARENB | termios.CSTOPB)
        c.set_reg(0, LCR, 0x1F)
        cflag = termios.tcgetattr(fd)[2]
        assert cflag & termios.CSTOPB and cflag & termios.CSIZE == termios.CS8
        if pty_keeps_parenb():
            assert cflag & termios.PARENB
        assert not cflag & termios.PARODD
        # T-34: divisor 7 leaves the speed alone
        for off, v in ((LCR, 0x83), (DLL, 0x07), (LCR, 0x03)):
            c.set_reg(0, off, v)
        assert termios.tcgetattr(fd)[4] == termios.B9600
    finally:
        os.close(fd)


def test_T66_T67_loopback_backend(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-1")
    umdevd.write_once(umdevd.dev_dir(u) / "mtty/backend", b"loopback\n")
    assert (umdevd.dev_dir(u) / "mtty/port0_pty").read_bytes() == b""
    assert not os.path.lexists(umdevd.rundir / f"mtty/{u}")
    c = Client(vfio_socket(umdevd, u)).version()
    try:
        c.set_reg(0, FCR, 0x07)
        c.set_reg(0, FCR, 0xC1)
        for off, v in ((LCR, 0x83), (DLL, 0x01), (DLM, 0x00), (LCR, 0x03), (IER, 0x05)):
            c.set_reg(0, off, v)
        for ch in b"0123456789abcdefXYZ":
            c.set_reg(0, THR, ch)
        assert c.reg(0, LSR) & 0x02
        got = bytes(c.reg(0, RBR) for _ in range(16))
        assert got == b"0123456789abcdef"
        s = stats(umdevd, u)
        assert s["port0_rx_overruns"] == 3 and s["port0_tx_dropped"] == 0
    finally:
        c.close()


# ---- reset, disconnect, removal (§5.5, §8) ----

def test_T70_T71_reset_keeps_pty_and_eventfd(dev):
    d, u, c = dev
    efd = eventfd()
    path = (d.dev_dir(u) / "mtty/port0_pty").read_text()
    fd = open_slave(d, u)
    try:
        c.set_irqs(INTX, ACTION_TRIGGER | DATA_EVENTFD, fds=[efd])
        c.set_reg(0, SCR, 0x5A)
        c.reset()
        assert c.reg(0, SCR) == 0
        assert (d.dev_dir(u) / "mtty/port0_pty").read_text() == path
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(100) == []  # no hang-up, no bytes
        c.set_reg(0, THR, ord("z"))
        assert read_exact(fd, 1) == b"z"
        c.set_reg(0, IER, 0x02)
        assert ev_wait(efd, 1.0) == 1
    finally:
        os.close(fd)
        os.close(efd)


def test_T72_reconnect_gives_power_on_and_no_fd_leak(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-2")
    path = vfio_socket(umdevd, u)
    pid = umdevd.proc.pid
    before = fd_count(pid)
    c = Client(path).version()
    efd = eventfd()
    c.set_irqs(INTX, ACTION_TRIGGER | DATA_EVENTFD, fds=[efd])
    c.set_reg(0, SCR, 0x77)
    c.set_reg(0, IER, 0x02)
    c.cfg_write(0x3C, 1, 0x0B)
    assert ev_wait(efd, 1.0) == 1
    c.close()
    deadline = time.monotonic() + 2
    while fd_count(pid) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fd_count(pid) == before
    c = Client(path).version()
    try:
        assert c.read(CONFIG, 0, 256) == power_on_table()
        assert [c.reg(0, o) for o in range(1, 8)] == [0, 1, 0, 0, 0x60, 0xB0, 0]
        c.set_reg(0, IER, 0x02)  # no eventfd installed any more: the old one stays quiet
        assert ev_wait(efd, 0.2) == 0
    finally:
        c.close()
        os.close(efd)


def test_T64_remove_while_connected(umdevd):
    u = str(uuid.uuid4())
    umdevd.create(u, "mtty-2")
    link = umdevd.rundir / f"mtty/{u}/port0"
    c = Client(vfio_socket(umdevd, u)).version()
    fd = open_slave(umdevd, u)
    try:
        umdevd.remove(u)
        assert not os.path.lexists(link)
        assert not os.path.lexists(umdevd.rundir / f"mtty/{u}")
        assert c.sock.recv(16) == b""  # the client reads EOF
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(1000)[0][1] & select.POLLHUP
        try:
            assert os.read(fd, 10) == b""
        except OSError as e:
            assert e.errno == errno.EIO
        with pytest.raises(OSError) as e:
            os.write(fd, b"x")
        assert e.value.errno == errno.EIO
    finally:
        os.close(fd)
        c.close()


def test_T65_two_devices_served_at_once(umdevd):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    umdevd.create(a, "mtty-2")
    umdevd.create(b, "mtty-1")
    ca = Client(vfio_socket(umdevd, a)).version()
    cb = Client(vfio_socket(umdevd, b)).version()
    fa, fb = open_slave(umdevd, a), open_slave(umdevd, b)
    try:
        ca.set_reg(0, THR, ord("A"))
        cb.set_reg(0, THR, ord("B"))
        assert read_exact(fa, 2, timeout=0.5) == b"A"
        assert read_exact(fb, 2, timeout=0.5) == b"B"
    finally:
        for f in (fa, fb):
            os.close(f)
        ca.close()
        cb.close()


def test_daemon_exit_hangs_up_ptys(make_umdevd):
    d = make_umdevd().start()
    u = str(uuid.uuid4())
    d.create(u, "mtty-1")
    fd = open_slave(d, u)
    try:
        d.stop()
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(1000)[0][1] & select.POLLHUP
        assert not os.path.lexists(d.rundir / f"mtty/{u}")
    finally:
        os.close(fd)
    d.check_output()


def test_mtty_backend_parameter_sets_the_default(make_umdevd):
    d = make_umdevd(args=["--driver", "mtty:backend=loopback"]).start()
    u = str(uuid.uuid4())
    d.create(u, "mtty-2")
    assert (d.dev_dir(u) / "mtty/backend").read_text() == "loopback\n"
    assert (d.dev_dir(u) / "mtty/port0_pty").read_bytes() == b""
    d.stop()
    d.check_output()

# Spec items proved by the tests of this file (their names start with the item):
#   T-8, T-9, T-10, T-11, T-12, T-13, T-15, T-16, T-17, T-18, T-19, T-20, T-21, T-22, T-23,
#   T-25, T-29, T-33, T-50, T-51, T-52, T-53, T-54, T-55, T-58, T-59, T-60, T-62, T-63,
#   T-64, T-65, T-66, T-67, T-70, T-71, T-72, T-73
