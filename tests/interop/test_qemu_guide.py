# SPDX-License-Identifier: MIT
"""docs/qemu.md run as written, so that the guide cannot drift from what works (issue 12, item
7).

The guide marks each shell block it means to be run with an HTML comment, `<!-- guide: NAME
-->`, on the line before the block. The test takes those blocks from the page and pastes them
in order into two bash processes, as a reader would into two shells: the first runs the settings
block and steps 1 to 5 (QEMU's console then stays on its stdio, as -nographic leaves it), the
second starts afresh with the settings block and runs step 6. The settings' variables name
temporary directories (RUNDIR, WORK) and a umdevd of this build. Two programs are not run as a
person runs them: picocom, interactive, is a stub on PATH that checks its options and names the
pty, which the test then opens to send `uname -r` to the guest's shell and read the answer; and
QEMU's `Ctrl-A X` is written into the first shell's stdin. Step 5's memfd variant (the edit the
guide describes, made to its boot block) boots once more before step 7's stop and clean-up.
The shells run with `set -eu`, so a failing command or an unset variable (the picocom step
once used the UUID that the create step set in the other shell) fails the test.
"""
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "qemu"))
import harness  # noqa: E402
from test_qemu_mtty import check_qemu_stderr, guard  # noqa: E402
from umdevd_fixture import Umdevd, fuse_mounted, lazy_unmount  # noqa: E402

SOURCE_ROOT = Path(__file__).resolve().parents[2]
DOC = SOURCE_ROOT / "docs/qemu.md"
# every block the guide marks, in its order; all run but own-qemu, which needs a QEMU 10.1+ on
# the host
BLOCKS = ["settings", "qemu-check", "chroot", "umdevd", "create", "initramfs", "boot",
          "own-qemu", "picocom", "stop", "cleanup"]
MARKED_RE = re.compile(r"^<!-- guide: (\S+) -->\n```sh\n(.*?)^```$", re.M | re.S)
# the memfd variant: what replaces `-machine q35` in the QEMU commands
MEMFD_RE = re.compile(r"replace `-machine q35` with\n\n<!-- guide: memfd -->\n```text\n(.*)\n```$",
                      re.M)
SH_BLOCK_RE = re.compile(r"^```sh$", re.M)
# blocks another test runs instead (the mbochs section: test_qemu_mbochs.py)
COVERED_RE = re.compile(r"^<!-- covered by: (test_\w+) -->\n```sh$", re.M)
STEP_TIMEOUT = 60
CHROOT_TIMEOUT = harness.BUILD_TIMEOUT  # the first run builds the chroot
# stderr lines of the first shell besides QEMU's known warning
SHELL_STDERR = [re.compile(r"^sid-chroot: (reusing|building|built) ")]

PICOCOM_STUB = """#!/bin/sh
# picocom for test_qemu_guide.py: the guide's options, then the port it would open
[ $# = 2 ] && [ "$1" = --noinit ] || { echo "picocom stub: unexpected arguments: $*" >&2; exit 2; }
[ -c "$2" ] || { echo "picocom stub: $2 is not a character device" >&2; exit 2; }
echo "picocom port $2"
"""


def guide_blocks():
    """{name: text} of the guide's marked blocks, checked against BLOCKS, and "memfd-boot":
    the boot block with the memfd variant's edit made."""
    text = DOC.read_text()
    found = MARKED_RE.findall(text)
    names = [name for name, _ in found]
    assert names == BLOCKS, f"docs/qemu.md marks {names}, the test knows {BLOCKS}"
    covered = COVERED_RE.findall(text)
    assert all((Path(__file__).parent / f"{t}.py").exists() for t in covered), covered
    assert len(SH_BLOCK_RE.findall(text)) == len(found) + len(covered), \
        "docs/qemu.md has a ```sh block without a <!-- guide: NAME --> or <!-- covered by: " \
        "TEST --> line before it"
    blocks = dict(found)
    m = MEMFD_RE.search(text)
    assert m, "docs/qemu.md no longer says what replaces `-machine q35` for memfd RAM"
    for name in ("boot", "own-qemu"):
        assert blocks[name].count("-machine q35 ") == 1 and "-m 256M " in blocks[name], \
            f"the memfd variant's edit does not apply to the {name} block"
    blocks["memfd-boot"] = blocks["boot"].replace("-machine q35 ", m.group(1) + " ")
    return blocks


class Shell(harness.Vm):
    """A bash that the guide's blocks are pasted into, its output read as harness.Vm reads a
    console (it is QEMU's console while step 5 runs). It stays in the test's process group,
    which meson's timeout kills; close() kills it and what it started, except a daemonized
    umdevd (which left with setsid)."""

    def __init__(self, workdir, env, name):
        super().__init__(workdir, workdir, workdir, [], name=name)
        self.env = env

    def command(self):
        return ["bash", "--norc", "--noprofile", "-eu"]

    def start(self):
        self.t0 = time.monotonic()
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err, cwd=SOURCE_ROOT,
                                         env=self.env)
        threading.Thread(target=self._reader, daemon=True).start()
        return self

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def paste(self, name, text, timeout=STEP_TIMEOUT):
        """Run block @name in this shell; returns its output lines."""
        with self.cond:
            start = len(self.lines)
        self.write(text.encode() + f"echo '@@ guide {name} done'\n".encode())
        # no ^: QEMU's last words end in "\r", which starts the next line
        i, _ = self.wait_line(rf"@@ guide {name} done$", timeout, start)
        with self.cond:
            return self.lines[start:i]

    def children(self, pid=None):
        """The pids of the processes the shell (or @pid) started."""
        pid = self.proc.pid if pid is None else pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []

    def close(self):
        """Kill the shell and every process under it (QEMU under unshare and chroot)."""
        if self.proc is not None and self.proc.poll() is None:
            todo, tree = [self.proc.pid], []
            while todo:
                tree.append(todo.pop())
                todo += self.children(tree[-1])
            for pid in tree:  # parents first: none of them can start another
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        super().close()


def read_until(fd, regex, timeout):
    """What @fd (non-blocking) gave until @regex matched it, or None after @timeout s."""
    out = b""
    deadline = time.monotonic() + timeout
    while not re.search(regex, out):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        if select.select([fd], [], [], left)[0]:
            try:
                out += os.read(fd, 4096)
            except BlockingIOError:
                pass
    return out


def guest_shell_round_trip(pty, kver):
    """As a picocom user: Enter until the guest's ttyS1 shell prompts, then `uname -r`."""
    fd = os.open(pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        deadline = time.monotonic() + 60
        while True:  # the guest starts ttyS1's shell after its console's: Enter until it is up
            os.write(fd, b"\r")
            if read_until(fd, rb"# ", 2) is not None:
                break
            if time.monotonic() > deadline:
                return None, "no prompt on the pty within 60 s of Enter every 2 s"
        os.write(fd, b"uname -r\r")
        out = read_until(fd, re.escape(kver.encode()) + rb"\r?\n", 30)
        return out, "" if out else f"no {kver!r} from `uname -r` within 30 s"
    finally:
        os.close(fd)


def boot(a, block):
    """Paste a QEMU block into shell @a; wait until the guest bound the card's first port."""
    t0 = time.monotonic()
    with a.cond:
        start = len(a.lines)
    a.write(block.encode())
    guard(lambda: a.wait_line(r"ttyS1 at I/O 0x[0-9a-f]+ .* is a 16550A", harness.BOOT_TIMEOUT,
                              start))
    return time.monotonic() - t0


def quit_qemu(a):
    """Ctrl-A X on QEMU's console (step 7); returns once QEMU has exited."""
    with a.cond:
        start = len(a.lines)
    a.write(b"\x01x")
    guard(lambda: a.wait_line(r"QEMU: Terminated", 30, start))
    deadline = time.monotonic() + 30
    while a.children():
        assert time.monotonic() < deadline, "QEMU did not exit after Ctrl-A X"
        time.sleep(0.05)


def test_guide_marks_every_shell_block():
    guide_blocks()


def test_guide_end_to_end(tmp_path):
    blocks = guide_blocks()
    chroot = harness.sid_chroot()
    kver = os.path.basename(harness.guest_kernel(chroot))[len("vmlinuz-"):]
    d = Umdevd(tmp_path)  # its paths and check_output(); the guide starts the daemon
    d.root, d.sys = d.rundir / "root", d.rundir / "root/sys"
    work = tmp_path / "work"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "picocom").write_text(PICOCOM_STUB)
    # this build's umdevd, logging to a file and reading no definitions of the host's
    (bindir / "umdevd").write_text(f"#!/bin/sh\nexec {os.environ['UMDEVD']} --mdevctl-config "
                                   f"{d.mdevctl_config} \"$@\" 2>>{d.stderr_path}\n")
    os.chmod(bindir / "picocom", 0o755)
    os.chmod(bindir / "umdevd", 0o755)
    d.mdevctl_config.mkdir()
    env = dict(os.environ, RUNDIR=str(d.rundir), WORK=str(work), UMDEVD=str(bindir / "umdevd"))
    env.pop("U", None)
    pidfile = d.rundir / "umdevd.pid"
    a = Shell(tmp_path, env, "shell1").start()
    try:
        # first shell: settings, steps 1 to 4
        guard(lambda: a.paste("settings", blocks["settings"]))
        guard(lambda: a.paste("qemu-check", blocks["qemu-check"]))
        out = guard(lambda: a.paste("chroot", blocks["chroot"], CHROOT_TIMEOUT))
        assert any(line.startswith("QEMU emulator version") for line in out), out
        guard(lambda: a.paste("umdevd", blocks["umdevd"]))
        assert pidfile.exists(), "the guide's umdevd wrote no pid file"
        assert fuse_mounted(d.root), "the guide's umdevd returned before mounting"
        out = guard(lambda: a.paste("create", blocks["create"]))
        assert out[0] == "vfio0" and out[1].startswith("/dev/pts/"), out
        guard(lambda: a.paste("initramfs", blocks["initramfs"]))
        assert (work / "guest.cpio.gz").stat().st_size > 100000

        # step 5: QEMU takes over the first shell's stdio
        print(f"\nboot to the card's ttyS1: {boot(a, blocks['boot']):.1f} s")

        # step 6, in a second shell that knows only the settings
        t1 = time.monotonic()
        b = subprocess.run(["bash", "--norc", "--noprofile", "-euc",
                            blocks["settings"] + blocks["picocom"]], cwd=SOURCE_ROOT,
                           env=dict(env, PATH=f"{bindir}:{env['PATH']}"),
                           capture_output=True, text=True, timeout=STEP_TIMEOUT)
        assert b.returncode == 0, f"step 6 failed ({b.returncode}):\n{b.stdout}{b.stderr}"
        pty = re.fullmatch(r"picocom port (\S+)\n", b.stdout).group(1)
        out, why = guest_shell_round_trip(pty, kver)
        assert out, why + "\n" + a.describe()
        print(f"`uname -r` over {pty}: {kver} in {time.monotonic() - t1:.1f} s")

        # step 7: Ctrl-A X to QEMU; the memfd variant of step 5 boots too; then the guide's
        # stop and clean-up in the same shell
        quit_qemu(a)
        print(f"memfd variant, boot to the card's ttyS1: {boot(a, blocks['memfd-boot']):.1f} s")
        quit_qemu(a)
        guard(lambda: a.paste("stop", blocks["stop"]))
        assert not pidfile.exists(), "umdevd's pid file outlived it"
        assert not fuse_mounted(d.root), "umdevd's tree is still mounted"
        guard(lambda: a.paste("cleanup", blocks["cleanup"]))
        assert not work.exists(), "the clean-up left the guest's work directory"
        a.proc.stdin.close()
        assert a.proc.wait(STEP_TIMEOUT) == 0, a.describe()
        check_qemu_stderr(a, SHELL_STDERR)
        d.check_output()
    finally:
        a.close()
        if pidfile.exists():  # the guide's umdevd, still running (or killed by the test)
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        if fuse_mounted(d.root):
            lazy_unmount(d.root)
