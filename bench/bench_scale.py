#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_scale: how umdevd's costs grow with the number of mdevs (issue 10; docs/benchmarks.md).

Starts the built umdevd with the mtty module on the loopback backend (one parent owning enough
ports), creates N mdevs through the tree as `echo UUID > create` does, and prints per thousand
mdevs the mean and the p99 create time, and at 100, 1,000, 10,000 (and N) the daemon's RSS,
threads and fds per mdev and the time of `ls -l bus/mdev/devices`. Stops early, saying why, if
a create fails. Run as root:

    python3 bench/bench_scale.py [--umdevd build/src/daemon/umdevd] [-n 10000]
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid


def proc_counts(pid):
    rss_kib = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    threads = len(os.listdir(f"/proc/{pid}/task"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss_kib, threads, fds


def ls_l(path):
    t0 = time.perf_counter()
    out = subprocess.run(["ls", "-l", path], capture_output=True, check=True).stdout
    return time.perf_counter() - t0, out.count(b"\n")


def wait_mounted(root, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"umdevd exited with {proc.returncode}")
        if os.path.isdir(os.path.join(root, "sys/class/mdev_bus/mtty")):
            return
        time.sleep(0.02)
    sys.exit("umdevd did not mount")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--umdevd", default="build/src/daemon/umdevd")
    ap.add_argument("-n", type=int, default=10000, help="mdevs to create")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="umdev-scale-")
    root, rundir = os.path.join(work, "root"), os.path.join(work, "run")
    cmd = [args.umdevd, "--foreground", "--mountpoint", root, "--rundir", rundir,
           "--driver", f"mtty:ports={max(args.n, 24)},backend=loopback"]
    log = open(os.path.join(work, "umdevd.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_mounted(root, proc)
        sys_ = os.path.join(root, "sys")
        create = os.path.join(sys_, "class/mdev_bus/mtty/mdev_supported_types/mtty-1/create")
        devices = os.path.join(sys_, "bus/mdev/devices")
        base = proc_counts(proc.pid)
        print(f"umdevd {args.umdevd}, {args.n} mdevs of mtty-1, loopback backend")
        print(f"empty daemon: RSS {base[0]} KiB, {base[1]} threads, {base[2]} fds")
        times = []
        marks = {100, 1000, 10000, args.n}
        for i in range(1, args.n + 1):
            u = str(uuid.uuid4()) + "\n"
            t0 = time.perf_counter()
            try:
                fd = os.open(create, os.O_WRONLY)
                try:
                    os.write(fd, u.encode())
                finally:
                    os.close(fd)
            except OSError as e:
                print(f"create {i} failed: {e.strerror} (errno {e.errno}); stopping")
                break
            times.append(time.perf_counter() - t0)
            if i % 1000 == 0:
                chunk = sorted(times[-1000:])
                print(f"  mdevs {i - 999:6d}-{i:6d}: create mean {statistics.mean(chunk) * 1e3:6.3f}"
                      f" ms, p99 {chunk[989] * 1e3:6.3f} ms")
            if i in marks:
                rss, thr, fds = proc_counts(proc.pid)
                t, lines = ls_l(devices)
                print(f"at {i:6d} mdevs: RSS +{(rss - base[0]) / i:7.1f} KiB, "
                      f"{(thr - base[1]) / i:5.2f} threads, {(fds - base[2]) / i:5.2f} fds per "
                      f"mdev; ls -l {t * 1e3:8.1f} ms ({lines - 1} entries)")
        first = times[:1000]
        last = times[-1000:]
        if len(times) >= 2000:
            ratio = statistics.mean(last) / statistics.mean(first)
            print(f"create mean, last thousand / first thousand: {ratio:.2f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(600)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        print(f"umdevd exit status {proc.returncode}; log {work}/umdevd.log")


if __name__ == "__main__":
    main()
