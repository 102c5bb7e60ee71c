# SPDX-License-Identifier: MIT
"""Concurrent creates against the mtty port budget (mdev.md §9.5 M-55; mtty.md §3)."""
import errno
import threading
import uuid


def test_M55_thirty_concurrent_dual_port_creates(umdevd):
    create = umdevd.type_dir("mtty-2") / "create"
    uuids = [str(uuid.uuid4()) for _ in range(30)]
    results = [None] * 30
    barrier = threading.Barrier(30)

    def worker(i):
        barrier.wait()
        results[i] = umdevd.write_errno(create, uuids[i] + "\n")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results.count(0) == 12
    assert results.count(errno.ENOSPC) == 18
    winners = sorted(u for u, r in zip(uuids, results) if r == 0)
    assert umdevd.devices() == winners
    assert (umdevd.type_dir("mtty-1") / "available_instances").read_bytes() == b"0\n"
    assert (umdevd.type_dir("mtty-2") / "available_instances").read_bytes() == b"0\n"


def test_M55_concurrent_mixed_creates_and_removes_settle_exactly(umdevd):
    # T-6 in small: racing creates and removes of both types; at quiescence the values equal
    # floor(free / ports) exactly and every refusal was ENOSPC.
    errors = []

    def worker(seed):
        for i in range(20):
            u = str(uuid.uuid4())
            t = "mtty-1" if (seed + i) % 2 else "mtty-2"
            r = umdevd.create_errno(u, t)
            if r == 0:
                if i % 3:
                    umdevd.remove(u)
            elif r != errno.ENOSPC:
                errors.append(r)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    used = 0
    for u in umdevd.devices():
        t = umdevd.path(f"bus/mdev/devices/{u}/mdev_type").resolve().name
        used += 1 if t == "mtty-1" else 2
    free = 24 - used
    assert umdevd.available("mtty-1") == free
    assert umdevd.available("mtty-2") == free // 2
