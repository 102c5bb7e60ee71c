#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_qemu - throughput between a guest tty and the host pty through stock QEMU (TCG) on an
umdev mtty card, and vfio-user messages per byte (issue 5; docs/benchmarks.md).

Runs umdevd (the build's, or UMDEVD), creates an mtty-2 device and boots the interop guest
twice: once with QEMU on the device's socket (throughput), once through a relay that counts
the vfio-user messages each way by command (messages per byte; the relay costs some
throughput, which is printed too). Each boot sends SIZE bytes guest -> pty (the guest's `cat`
to its ttyS, timed from the command to the last byte at the pty) and pty -> guest (the host's
writes after the guest's reader is ready, timed to the guest's report that it has them all).

Usage (root): tests/interop/qemu/bench_qemu.py [--size BYTES] [--umdevd PATH]
"""
import argparse
import collections
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

NAMES = {1: "VERSION", 2: "DMA_MAP", 3: "DMA_UNMAP", 4: "DEVICE_GET_INFO",
         5: "DEVICE_GET_REGION_INFO", 7: "DEVICE_GET_IRQ_INFO", 8: "DEVICE_SET_IRQS",
         9: "REGION_READ", 10: "REGION_WRITE", 11: "DMA_READ", 12: "DMA_WRITE",
         13: "DEVICE_RESET"}


class Relay:
    """A vfio-user relay on @listen_path to @upstream_path that forwards bytes and fds
    unchanged and counts messages per direction and command (header: vfio-user.md §6.1)."""

    def __init__(self, listen_path, upstream_path):
        self.listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listen.bind(str(listen_path))
        self.listen.listen(1)
        self.upstream_path = str(upstream_path)
        self.lock = threading.Lock()
        self.counts = {"to_server": collections.Counter(), "to_client": collections.Counter()}
        threading.Thread(target=self._serve, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return {k: collections.Counter(v) for k, v in self.counts.items()}

    def _serve(self):
        client, _ = self.listen.accept()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.connect(self.upstream_path)
        threading.Thread(target=self._pump, args=(client, server, "to_server"),
                         daemon=True).start()
        self._pump(server, client, "to_client")

    def _pump(self, src, dst, way):
        hdr, left = b"", 0  # header bytes gathered; bytes left of the current message
        fds_size = socket.CMSG_SPACE(16 * 4)
        while True:
            try:
                data, anc, _, _ = src.recvmsg(65536, fds_size)
            except OSError:
                data, anc = b"", []
            if not data:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return
            fds = []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += list(struct.unpack(f"{len(payload) // 4}i", payload))
            if fds:
                dst.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                      struct.pack(f"{len(fds)}i", *fds))])
                for fd in fds:
                    os.close(fd)
            else:
                dst.sendall(data)
            i = 0
            while i < len(data):
                if left:
                    step = min(left, len(data) - i)
                    left -= step
                    i += step
                    continue
                need = 16 - len(hdr)
                hdr += data[i:i + need]
                i += min(need, len(data) - i)
                if len(hdr) == 16:
                    _, command, size, flags, _ = struct.unpack("<HHIII", hdr)
                    kind = "reply" if flags & 0xF == 1 else "request"
                    with self.lock:
                        self.counts[way][(NAMES.get(command, str(command)), kind)] += 1
                    left, hdr = size - 16, b""


def pattern(seed, size):
    data = bytearray(range(256)) * (size // 256)
    random.Random(seed).shuffle(data)
    return bytes(data)


def read_exact(fd, n, timeout):
    out = bytearray()
    t_first = None
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, n - len(out))
            except BlockingIOError:
                continue
            if t_first is None:
                t_first = time.monotonic()
            out += chunk
    return bytes(out), t_first


def write_all(fd, data, timeout=300):
    deadline = time.monotonic() + timeout
    while data and time.monotonic() < deadline:
        _, w, _ = select.select([], [fd], [], 0.5)
        if w:
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                pass
    if data:
        raise TimeoutError("the pty took no more bytes")


def messages(before, after, way):
    return sum((after[way] - before[way]).values()), after[way] - before[way]


def one_boot(chroot, work, sock, pty_fd, size, relay=None):
    files = {"out": pattern("out", size), "in": pattern("in", size)}
    initrd = harness.build_initramfs(chroot, work / "initramfs.cpio.gz", files)
    vm = harness.Vm(chroot, work, initrd, [sock], name="bench")
    res = {}
    try:
        vm.start()
        res["boot_s"] = vm.boots[0]
        tty = [ln.split()[1] for ln in vm.run("info") if ln.startswith("bar0 ")][0]
        vm.run(f"rawtty </dev/{tty}")
        # guest -> pty
        c0 = relay.snapshot() if relay else None
        t0 = time.monotonic()
        seq, i = vm.begin(f"tx {tty} /data/out")
        got, t_first = read_exact(pty_fd, size, timeout=600)
        t1 = time.monotonic()
        vm.finish(seq, i, timeout=60)
        c1 = relay.snapshot() if relay else None
        assert got == files["out"], f"guest -> pty: {len(got)} of {size} bytes, or different"
        res["tx_Bps"] = size / (t1 - t0)
        if relay:
            res["tx_msgs"] = messages(c0, c1, "to_server")
        # pty -> guest
        seq, i = vm.begin(f"rx {tty} /data/in")
        vm.wait_line(r"^@@ ready$", 30, i)
        c0 = relay.snapshot() if relay else None
        t0 = time.monotonic()
        write_all(pty_fd, files["in"])
        rc, out = vm.finish(seq, i, timeout=600)
        t1 = time.monotonic()
        c1 = relay.snapshot() if relay else None
        assert rc == 0, f"pty -> guest: {out}"
        res["rx_Bps"] = size / (t1 - t0)
        if relay:
            res["rx_msgs"] = messages(c0, c1, "to_server")
        vm.poweroff()
    except harness.HarnessError as e:
        sys.exit(f"bench_qemu: {e}")
    finally:
        vm.close()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=65536, help="bytes each way (multiple of 4096)")
    ap.add_argument("--umdevd", default=os.environ.get("UMDEVD", "build/src/daemon/umdevd"))
    args = ap.parse_args()
    chroot = harness.sid_chroot()
    with tempfile.TemporaryDirectory(prefix="bench_qemu.") as tmp:
        work = Path(tmp)
        root, run = work / "root", work / "run"
        err = open(work / "umdevd.stderr", "wb")
        d = subprocess.Popen([args.umdevd, "--foreground", "--mountpoint", str(root),
                              "--rundir", str(run)], stderr=err, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            types = root / "sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2"
            while not types.exists():
                if d.poll() is not None or time.monotonic() > deadline:
                    sys.exit("bench_qemu: umdevd did not start:\n"
                             + (work / "umdevd.stderr").read_text())
                time.sleep(0.05)
            u = str(uuid.uuid4())
            (types / "create").write_text(u + "\n")
            dev = root / "sys/bus/mdev/devices" / u
            sock = run / "vfio/devices" / os.listdir(dev / "vfio-dev")[0]
            pty = (dev / "mtty/port0_pty").read_text().strip()
            pty_fd = os.open(pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

            direct = one_boot(chroot, work, sock, pty_fd, args.size)
            relay = Relay(work / "relay.sock", sock)
            relayed = one_boot(chroot, work, work / "relay.sock", pty_fd, args.size, relay)
            os.close(pty_fd)
        finally:
            d.send_signal(signal.SIGTERM)
            try:
                d.wait(30)
            except subprocess.TimeoutExpired:
                d.kill()
                d.wait()
                subprocess.run(["umount", "-l", str(root)], stderr=subprocess.DEVNULL)

    n = args.size
    print(f"bench_qemu: {n} bytes each way, port 0 of an mtty-2 card, QEMU TCG, guest 8250 "
          "driver (INTx)")
    print(f"  boot to /init: {direct['boot_s']:.1f} s")
    print(f"  guest -> pty: {direct['tx_Bps']:8.0f} B/s direct, {relayed['tx_Bps']:8.0f} B/s "
          "through the counting relay")
    print(f"  pty -> guest: {direct['rx_Bps']:8.0f} B/s direct, {relayed['rx_Bps']:8.0f} B/s "
          "through the counting relay")
    for way, key in (("guest -> pty", "tx_msgs"), ("pty -> guest", "rx_msgs")):
        total, by = relayed[key]
        detail = ", ".join(f"{name} {kind} {c}" for (name, kind), c in by.most_common())
        print(f"  {way}: {total} messages from QEMU, {total / n:.2f} per byte ({detail})")


if __name__ == "__main__":
    main()
