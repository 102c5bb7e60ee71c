# SPDX-License-Identifier: MIT
"""A minimal vfio-user client for the tests (vfio-user.md §6-§8), shared by the functional
suite (test_mtty_vfio.py) and the interop suite (test_sdk.py).

Written from the byte layouts of vfio-user.md §6-§8 with struct.pack, not from the server's
headers. A failed request raises VfioError with the server's errno.
"""
import os
import select
import socket
import struct

# vfio-user.md §8.1
VERSION, GET_INFO, REGION_INFO, IRQ_INFO, SET_IRQS = 1, 4, 5, 7, 8
REGION_READ, REGION_WRITE, RESET = 9, 10, 13
# <linux/vfio.h> SET_IRQS flags
DATA_NONE, DATA_BOOL, DATA_EVENTFD = 0x1, 0x2, 0x4
ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER = 0x8, 0x10, 0x20
INTX, MSI = 0, 1
CONFIG = 7


class VfioError(Exception):
    def __init__(self, err):
        super().__init__(os.strerror(err))
        self.errno = err


class Client:
    """A minimal vfio-user client (vfio-user.md §6.1 header, §7, §8)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(path))
        self.msg_id = 0

    def close(self):
        self.sock.close()

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("server closed the connection")
            buf += chunk
        return buf

    def call(self, command, payload=b"", fds=()):
        self.msg_id = (self.msg_id + 1) & 0xFFFF
        hdr = struct.pack("<HHIII", self.msg_id, command, 16 + len(payload), 0, 0)
        if fds:
            socket.send_fds(self.sock, [hdr + payload], list(fds))
        else:
            self.sock.sendall(hdr + payload)
        msg_id, cmd, size, flags, err = struct.unpack("<HHIII", self._recv_exact(16))
        body = self._recv_exact(size - 16)
        assert (msg_id, cmd) == (self.msg_id, command)
        if flags & 0x20:
            assert flags == 0x21 and size == 16
            raise VfioError(err)
        assert flags & 0xF == 1
        return body

    def version(self):
        caps = b'{"capabilities": {"max_msg_fds": 8, "max_data_xfer_size": 1048576}}\0'
        body = self.call(VERSION, struct.pack("<HH", 0, 0) + caps)
        major, minor = struct.unpack_from("<HH", body)
        assert major == 0 and body.endswith(b"\0")
        return self

    def device_info(self):
        return struct.unpack("<IIII", self.call(GET_INFO, struct.pack("<IIII", 16, 0, 0, 0)))

    def region_info(self, index):
        body = self.call(REGION_INFO, struct.pack("<IIIIQQ", 32, 0, index, 0, 0, 0))
        argsz, flags, idx, cap_off, size, off = struct.unpack_from("<IIIIQQ", body)
        return flags, size

    def region_info_full(self, index):
        """REGION_INFO with room for the sparse-mmap capability (argsz 64, vfio-user.md
        §8.5). Returns (flags, size, areas [(offset, size)], fds received with the reply)."""
        self.msg_id = (self.msg_id + 1) & 0xFFFF
        payload = struct.pack("<IIIIQQ", 64, 0, index, 0, 0, 0) + bytes(32)
        self.sock.sendall(struct.pack("<HHIII", self.msg_id, REGION_INFO, 16 + len(payload),
                                      0, 0) + payload)
        hdr, fds, _, _ = socket.recv_fds(self.sock, 16, 8)
        hdr += self._recv_exact(16 - len(hdr))
        msg_id, cmd, size, flags, err = struct.unpack("<HHIII", hdr)
        body = self._recv_exact(size - 16)
        assert (msg_id, cmd) == (self.msg_id, REGION_INFO)
        if flags & 0x20:
            for fd in fds:
                os.close(fd)
            raise VfioError(err)
        argsz, rflags, idx, cap_off, rsize, off = struct.unpack_from("<IIIIQQ", body)
        areas = []
        if cap_off:
            cap_id, cap_ver, cap_next, nr = struct.unpack_from("<HHII", body, cap_off)
            assert cap_id == 1  # VFIO_REGION_INFO_CAP_SPARSE_MMAP
            for i in range(nr):
                areas.append(struct.unpack_from("<QQ", body, cap_off + 16 + 16 * i))
        return rflags, rsize, areas, fds

    def irq_info(self, index):
        argsz, flags, idx, count = struct.unpack(
            "<IIII", self.call(IRQ_INFO, struct.pack("<IIII", 16, 0, index, 0)))
        return flags, count

    def read(self, region, offset, count):
        body = self.call(REGION_READ, struct.pack("<QII", offset, region, count))
        assert struct.unpack_from("<QII", body) == (offset, region, count)
        return body[16:]

    def write(self, region, offset, data):
        self.call(REGION_WRITE, struct.pack("<QII", offset, region, len(data)) + data)

    def cfg(self, offset, size):
        return int.from_bytes(self.read(CONFIG, offset, size), "little")

    def cfg_write(self, offset, size, value):
        self.write(CONFIG, offset, value.to_bytes(size, "little"))

    def reg(self, port, offset):
        return self.read(port, offset, 1)[0]

    def set_reg(self, port, offset, value):
        self.write(port, offset, bytes([value]))

    def set_irqs(self, index, flags, start=0, count=1, fds=(), data=b""):
        self.call(SET_IRQS,
                  struct.pack("<IIIII", 20 + len(data), flags, index, start, count) + data,
                  fds)

    def reset(self):
        self.call(RESET)


def eventfd():
    return os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)


def ev_wait(fd, timeout=1.0):
    """The eventfd's counter if it fires within @timeout seconds, else 0."""
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return 0
    return os.eventfd_read(fd)
