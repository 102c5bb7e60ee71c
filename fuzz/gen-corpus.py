#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of fuzz/corpus/<target>/ (docs/fuzzing.md).

Input formats: fuzz_vfio_user.c and fuzz_sysfs_write.c (comments at their top). The vfio-user
seeds are valid sessions covering every command of vfio-user.md §8.1 against the mtty
devices of mtty.md, plus the framing cases of §6. Rerun after changing a format:
    fuzz/gen-corpus.py && git add fuzz/corpus
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# vfio-user.md §8.1
VERSION, DMA_MAP, DMA_UNMAP, GET_INFO, REGION_INFO, REGION_IO_FDS = 1, 2, 3, 4, 5, 6
IRQ_INFO, SET_IRQS, REGION_READ, REGION_WRITE, DMA_READ, DMA_WRITE = 7, 8, 9, 10, 11, 12
RESET, WRITE_MULTI, FEATURE, MIG_READ, MIG_WRITE = 13, 15, 16, 17, 18
NO_REPLY, TYPE_REPLY = 0x10, 0x1
# ctl byte of a record (fuzz_vfio_user.c)
MEMFD, EVENTFD, DEVNULL, SOCKET = 0x00, 0x10, 0x20, 0x30
RAW, SPLIT = 0x40, 0x80
CONFIG = 7  # VFIO_PCI_CONFIG_REGION_INDEX
# UART registers (mtty.md §7)
THR, IER, IIR, LCR, MCR, LSR, MSR, SCR = 0, 1, 2, 3, 4, 5, 6, 7
# SET_IRQS flags
D_NONE, D_BOOL, D_EVENTFD, A_MASK, A_UNMASK, A_TRIGGER = 1, 2, 4, 8, 16, 32

QEMU_CAPS = (b'{"capabilities": {"max_msg_fds": 16, "max_data_xfer_size": 1048576, '
             b'"pgsizes": 4096, "max_dma_maps": 65535, "migration": {"pgsize": 4096, '
             b'"max_bitmap_size": 268435456}, "write_multiple": true}}')


# the option byte of fuzz_vfio_user.c; bit 0 is the device
BUSY, BUSY_NO_REPLY, CHECK_RESET, DMA = 0x2, 0x4, 0x8, 0x10


class Session:
    def __init__(self, opts=0):
        self.out = bytearray([opts])
        self.msg_id = 0

    def rec(self, cmd, payload=b"", ctl=0, flags=0, msg_size=None, error=0):
        size = 16 + len(payload) if msg_size is None else msg_size
        self.out += struct.pack("<BH", ctl, len(payload))
        self.out += struct.pack("<HHIII", self.msg_id, cmd, size, flags, error) + payload
        self.msg_id += 1
        return self

    def version(self, json=QEMU_CAPS, minor=0):
        body = b"" if json is None else json + b"\0"
        return self.rec(VERSION, struct.pack("<HH", 0, minor) + body)

    def read(self, region, off, count):
        return self.rec(REGION_READ, struct.pack("<QII", off, region, count))

    def write(self, region, off, data):
        return self.rec(REGION_WRITE, struct.pack("<QII", off, region, len(data)) + data)

    def set_irqs(self, flags, index, start, count, ctl=0, data=b""):
        return self.rec(SET_IRQS, struct.pack("<IIIII", 20 + len(data), flags, index, start,
                                              count) + data, ctl=ctl)


def vfio_user_seeds():
    s = {}
    s["version-qemu"] = Session().version()
    s["version-bare"] = Session().version(None, minor=2)
    s["version-empty-json"] = Session(1).version(b"{}")
    s["version-twin"] = Session().version(
        b'{"capabilities":{"max_msg_fds":8,"twin_socket":{"supported":true}}}')
    s["busy"] = Session(BUSY).version().rec(GET_INFO, struct.pack("<IIII", 16, 0, 0, 0))
    s["busy-no-reply"] = Session(1 | BUSY | BUSY_NO_REPLY).version()
    s["version-bad-json"] = Session().version(b'{"capabilities":{"pgsizes":4096.5}}')
    s["first-not-version"] = Session().rec(GET_INFO, struct.pack("<IIII", 16, 0, 0, 0))

    x = Session().version().rec(GET_INFO, struct.pack("<IIII", 16, 0, 0, 0))
    for i in range(9):
        x.rec(REGION_INFO, struct.pack("<IIIIQQ", 32, 0, i, 0, 0, 0))
    for i in range(5):
        x.rec(IRQ_INFO, struct.pack("<IIII", 16, 0, i, 0))
    x.rec(REGION_IO_FDS, struct.pack("<IIII", 16, 0, 0, 0))
    s["info-all"] = x

    x = Session().version().read(CONFIG, 0, 64).read(CONFIG, 0x50, 16)
    x.write(CONFIG, 4, struct.pack("<H", 0x0401)).write(CONFIG, 0x10, b"\xff" * 4)
    x.read(CONFIG, 0x10, 8).write(CONFIG, 0x3c, b"\x0a").write(CONFIG, 0x52, b"\x01")
    x.read(CONFIG, 0xfc, 4).read(CONFIG, 0x100, 1)
    s["config-rw"] = x

    for dev in (0, 1):
        x = Session(dev).version()
        x.write(0, LCR, b"\x80").write(0, 0, b"\x01").write(0, 1, b"\x00")
        x.write(0, LCR, b"\x03").write(0, 2, b"\xc7").write(0, IER, b"\x0f")
        x.write(0, MCR, b"\x0b" if dev == 0 else b"\x1b")
        for c in b"umdev":
            x.write(0, THR, bytes([c]))
        for r in (LSR, IIR, 0, 0, MSR, SCR, LCR):
            x.read(0, r, 1)
        x.write(0, SCR, b"\x5a").read(0, SCR, 1)
        if dev == 0:
            x.write(1, THR, b"\x42").read(1, LSR, 1)
        s["uart-dev%d" % dev] = x

    x = Session().version()
    x.set_irqs(D_EVENTFD | A_TRIGGER, 0, 0, 1, ctl=1 | EVENTFD)
    x.set_irqs(D_EVENTFD | A_UNMASK, 0, 0, 1, ctl=1 | EVENTFD)
    x.set_irqs(D_NONE | A_MASK, 0, 0, 1).set_irqs(D_NONE | A_UNMASK, 0, 0, 1)
    x.set_irqs(D_BOOL | A_TRIGGER, 0, 0, 1, data=b"\x01")
    x.write(0, IER, b"\x02").write(0, THR, b"\x41").read(0, IIR, 1)
    x.set_irqs(D_NONE | A_TRIGGER, 0, 0, 0)
    x.write(CONFIG, 0x52, b"\x01")
    x.set_irqs(D_EVENTFD | A_TRIGGER, 1, 0, 1, ctl=1 | EVENTFD)
    x.write(0, THR, b"\x41").read(0, IIR, 1)
    x.set_irqs(D_EVENTFD | A_TRIGGER, 3, 0, 1, ctl=1 | EVENTFD)
    x.set_irqs(D_EVENTFD | A_TRIGGER, 4, 0, 1, ctl=1 | EVENTFD)
    x.rec(RESET)
    s["irqs"] = x

    x = Session().version()
    x.rec(DMA_MAP, struct.pack("<IIQQQ", 32, 3, 0, 0x100000, 0x10000), ctl=1 | MEMFD)
    x.rec(DMA_MAP, struct.pack("<IIQQQ", 32, 1, 0, 0x200000, 0x1000))
    x.rec(DMA_MAP, struct.pack("<IIQQQ", 32, 3, 0, 0x100000, 0x1000), ctl=1 | MEMFD)
    x.rec(DMA_UNMAP, struct.pack("<IIQQ", 24, 0, 0x200000, 0x1000))
    x.rec(DMA_UNMAP, struct.pack("<IIQQ", 24, 2, 0, 0))
    x.rec(DMA_MAP, struct.pack("<IIQQQ", 32, 2, 0x1000, 0x300000, 0x1000), ctl=1 | MEMFD)
    s["dma"] = x

    # fuzz_vfio_handle: a driver DMA after a message, asked for in its header's error field
    def probe(iova, length, write):
        return (iova >> 4) << 8 | length << 1 | write

    info = struct.pack("<IIII", 16, 0, 0, 0)
    x = Session().version()
    x.rec(DMA_MAP, struct.pack("<IIQQQ", 32, 3, 0, 0x100000, 0x10000), ctl=1 | MEMFD)
    x.rec(DMA_MAP, struct.pack("<IIQQQ", 32, 1, 0x1000, 0x110000, 0x1000), ctl=1 | MEMFD)
    x.rec(DMA_MAP, struct.pack("<IIQQQ", 32, 3, 0, 0x111000, 0x1000))
    x.rec(GET_INFO, info, error=probe(0x100000, 64, 1)).rec(GET_INFO, info,
                                                           error=probe(0x100000, 64, 0))
    x.rec(GET_INFO, info, error=probe(0x10fff0, 32, 0)).rec(GET_INFO, info,
                                                           error=probe(0x10fff0, 32, 1))
    x.rec(GET_INFO, info, error=probe(0x110ff0, 32, 0)).rec(GET_INFO, info,
                                                           error=probe(0x1ffff0, 32, 0))
    s["dma-probe"] = x

    # fuzz_vfio_user: a driver thread reads 16 and writes 8 bytes at 0x200000 in turn; the
    # client answers its DMA_READ/DMA_WRITE requests, msg_id 0, 1, 2, ... (§8.12)
    for name, caps in (("dma-msg", QEMU_CAPS),
                       ("dma-msg-small-xfer", b'{"capabilities":{"max_data_xfer_size":4}}'),
                       ("dma-msg-twin", b'{"capabilities":{"twin_socket":{"supported":true}}}')):
        x = Session(DMA).version(caps)
        x.rec(DMA_MAP, struct.pack("<IIQQQ", 32, 3, 0, 0x200000, 0x1000))
        x.msg_id = 0
        x.rec(DMA_READ, struct.pack("<QQ", 0x200000, 16) + bytes(range(16)), flags=TYPE_REPLY)
        x.rec(DMA_WRITE, struct.pack("<QQ", 0x200000, 8), flags=TYPE_REPLY)
        x.rec(DMA_READ, b"", flags=TYPE_REPLY | 0x20, error=5)
        x.rec(DMA_WRITE, struct.pack("<QI", 0x200000, 8), flags=TYPE_REPLY)
        s[name] = x

    x = Session().version()
    entries = struct.pack("<QII", LCR, 0, 1) + b"\x03" + b"\0" * 7
    entries += struct.pack("<QII", 4, CONFIG, 2) + struct.pack("<H", 1) + b"\0" * 6
    x.rec(WRITE_MULTI, struct.pack("<Q", 2) + entries)
    s["write-multi"] = x
    entry = struct.pack("<QII", SCR, 0, 1) + b"\x5a" + b"\0" * 7
    s["write-multi-200"] = Session().version().rec(WRITE_MULTI,
                                                   struct.pack("<Q", 200) + entry * 200)

    x = Session().version().rec(RESET).rec(FEATURE, struct.pack("<II", 8, 0))
    x.rec(MIG_READ, struct.pack("<II", 8, 0)).rec(MIG_WRITE, struct.pack("<II", 8, 0))
    x.rec(14, b"").rec(DMA_READ, struct.pack("<QQ", 0, 8)).rec(DMA_WRITE, b"\0" * 24)
    x.rec(VERSION, struct.pack("<HH", 0, 0))
    s["other-commands"] = x

    x = Session().version().rec(GET_INFO, struct.pack("<IIII", 16, 0, 0, 0), flags=NO_REPLY)
    x.rec(DMA_READ, struct.pack("<QI", 0, 8), flags=TYPE_REPLY).rec(GET_INFO, b"", flags=2)
    x.rec(GET_INFO, struct.pack("<IIII", 16, 0, 0, 0), ctl=2 | DEVNULL)
    x.rec(GET_INFO, struct.pack("<IIII", 16, 0, 0, 0), ctl=9 | SOCKET)
    s["flags-and-fds"] = x

    s["frame-small"] = Session().version().rec(GET_INFO, b"", ctl=RAW, msg_size=8)
    s["frame-big"] = Session().version().rec(GET_INFO, b"", ctl=RAW, msg_size=0x7fffffff)
    s["frame-short"] = Session().version().rec(GET_INFO, b"\0" * 8, ctl=RAW, msg_size=64)
    x = Session().version()
    x.set_irqs(D_EVENTFD | A_TRIGGER, 0, 0, 1, ctl=SPLIT | 1 | EVENTFD)
    x.write(0, THR, b"\x41")
    s["split-fds"] = x
    # the same sessions, then a new one must find the device at power-on
    for n in ("uart-dev0", "uart-dev1", "irqs", "config-rw", "dma"):
        s["check-reset-" + n] = s[n]
    out = {k: bytes(v.out) for k, v in s.items()}
    for k in out:
        if k.startswith("check-reset-"):
            out[k] = bytes([out[k][0] | CHECK_RESET]) + out[k][1:]
    return out


def sysfs_write_seeds():
    u = b"6a3f0f7c-27c4-4c1c-9d2b-8a6e6b1f5c1e"
    s = {
        "create": u,
        "create-newline": u + b"\n",
        "create-upper": u.upper() + b"\n",
        "create-braces": b"{" + u + b"}",
        "remove-1": b"1",
        "remove-1-newline": b"1\n",
        "remove-hex": b"+0x1f\n",
        "remove-octal": b"017",
        "remove-max": b"18446744073709551615",
        "backend-pty": b"pty\n",
        "backend-loopback": b"loopback",
    }
    out = {}
    for k, v in s.items():
        sel = 0 if k.startswith("create") else 1 if k.startswith("remove") else 2
        out[k] = bytes([sel]) + v
    return out


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (d, len(seeds)), file=sys.stderr)


write("vfio_user", vfio_user_seeds())
write("sysfs_write", sysfs_write_seeds())
