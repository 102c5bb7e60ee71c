# SPDX-License-Identifier: MIT
"""Stock QEMU against umdevd: the host side of the guest interop checks (issue 5).

- sid_chroot() builds or reuses the cached Debian sid chroot (sid-chroot.sh) that holds
  qemu-system-x86, a Linux kernel and busybox-static.
- build_initramfs() packs BusyBox, init.sh as /init and the test's data files.
- Vm runs the chroot's QEMU on one or more vfio-user sockets, in a private mount namespace
  (unshare) where the work directory is bind-mounted at the chroot's /mnt and proc at /proc, so
  no mount outlives QEMU, whatever happens to this process. QEMU dies with unshare
  (--kill-child), and unshare with this process (setpriv --pdeathsig) or with its process
  group (meson's timeout kills the test's group). The guest's console is QEMU's stdio:
  Vm.run() sends one shell command line and returns the guest's framed output (init.sh).

Every wait has a deadline; a failure message carries the console tail, QEMU's stderr and exit
status, and umdevd's stderr (when the Vm was given the daemon), so it says why it failed.
"""
import glob
import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SID_CHROOT = HERE / "sid-chroot.sh"
INIT = HERE / "init.sh"
BUILD_TIMEOUT = 30 * 60  # a first build takes 3-4 min; a slow mirror gets room
BOOT_TIMEOUT = 120       # TCG boots take 5-10 s on 2 cores


class HarnessError(Exception):
    pass


_chroot_cache = {}


def sid_chroot():
    """The cached chroot's path, building it on first use. UMDEV_SID_CHROOT=DIR uses DIR
    instead (a chroot made some other way, while developing)."""
    if "dir" not in _chroot_cache and os.environ.get("UMDEV_SID_CHROOT"):
        _chroot_cache.update(dir=Path(os.environ["UMDEV_SID_CHROOT"]),
                             log="UMDEV_SID_CHROOT", seconds=0.0)
    if "dir" not in _chroot_cache:
        t0 = time.monotonic()
        r = subprocess.run([str(SID_CHROOT)], capture_output=True, text=True,
                           timeout=BUILD_TIMEOUT)
        if r.returncode != 0:
            raise HarnessError(f"sid-chroot.sh failed ({r.returncode}):\n{r.stderr}")
        _chroot_cache["dir"] = Path(r.stdout.strip())
        _chroot_cache["log"] = r.stderr.strip()
        _chroot_cache["seconds"] = time.monotonic() - t0
    return _chroot_cache["dir"]


def chroot_log():
    return _chroot_cache.get("log", ""), _chroot_cache.get("seconds", 0.0)


def guest_kernel(chroot):
    """/boot/vmlinuz-<newest> inside the chroot, as a path QEMU sees there."""
    kernels = sorted(glob.glob(str(Path(chroot) / "boot/vmlinuz-*")))
    if not kernels:
        raise HarnessError(f"no kernel in {chroot}/boot")
    return "/boot/" + os.path.basename(kernels[-1])


def guest_modules(chroot, module):
    """The guest kernel's module @module (a path under /lib/modules/<version>/, such as
    "kernel/drivers/gpu/drm/tiny/bochs.ko.xz") and the modules it needs, from modules.dep, in
    load order, decompressed for BusyBox's insmod: {"<n>-<name>.ko": bytes}, n from 1, so
    that `for m in /data/*.ko` loads them in order (up to 9)."""
    import lzma
    versions = sorted(glob.glob(str(Path(chroot) / "lib/modules/*")))
    if not versions:
        raise HarnessError(f"no kernel modules in {chroot}/lib/modules")
    base = Path(versions[-1])
    deps = {}
    for line in (base / "modules.dep").read_text().splitlines():
        name, _, rest = line.partition(":")
        deps[name] = rest.split()
    if module not in deps:
        raise HarnessError(f"{module} is not in {base}/modules.dep")
    order = []

    def visit(m):
        if m not in order:
            for d in deps[m]:
                visit(d)
            order.append(m)
    visit(module)
    out = {}
    for i, m in enumerate(order, 1):
        data = (base / m).read_bytes()
        if m.endswith(".xz"):
            data = lzma.decompress(data)
        name = os.path.basename(m).removesuffix(".xz")
        out[f"{i}-{name}"] = data
    return out


def build_initramfs(chroot, out, files):
    """Write a gzipped newc cpio to @out: BusyBox, /init and @files ({name: bytes})."""
    out = Path(out)
    stage = out.parent / (out.name + ".d")
    shutil.rmtree(stage, ignore_errors=True)
    for d in ("bin", "dev", "proc", "sys", "tmp", "data"):
        (stage / d).mkdir(parents=True)
    busybox = Path(chroot) / "bin/busybox"
    shutil.copy2(busybox, stage / "bin/busybox")
    shutil.copy2(INIT, stage / "init")
    os.chmod(stage / "init", 0o755)
    os.mknod(stage / "dev/console", 0o600 | stat.S_IFCHR, os.makedev(5, 1))
    for name, data in files.items():
        (stage / "data" / name).write_bytes(data)
    # one symlink per applet (sh for /init's #! line among them), so init.sh calls them by name
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        p = stage / "bin" / a
        if not p.exists() and "/" not in a:
            os.symlink("busybox", p)
    names = sorted(str(p.relative_to(stage)) for p in stage.rglob("*"))
    cpio = subprocess.run([str(busybox), "cpio", "-o", "-H", "newc"], cwd=stage,
                          input="\n".join(names).encode() + b"\n", capture_output=True,
                          check=True).stdout
    out.write_bytes(gzip.compress(cpio, 6))
    shutil.rmtree(stage)
    return out


def vfio_user_device(socket_path, dev_id):
    """QEMU's -device value for a vfio-user-pci device (only the JSON form works)."""
    return json.dumps({"driver": "vfio-user-pci", "id": dev_id,
                       "socket": {"path": socket_path, "type": "unix"}}, separators=(",", ":"))


class Vm:
    """One QEMU process on the chroot, the guest console as a command channel.

    @workdir is bind-mounted at /mnt in the chroot: the initramfs and the vfio sockets must be
    under it (guest_path() maps a host path under @workdir to the chroot's view).
    """

    def __init__(self, chroot, workdir, initrd, sockets, reboot=False, memfd=False,
                 append="", daemon=None, name="vm"):
        self.chroot = Path(chroot)
        self.workdir = Path(workdir)
        self.initrd = Path(initrd)
        self.sockets = [Path(s) for s in sockets]
        self.reboot = reboot
        self.memfd = memfd
        self.append = append
        self.daemon = daemon
        self.name = name
        self.console_path = self.workdir / f"{name}.console"
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.seq = 0
        self.boots = []  # seconds from start to each "@@ hello"
        self.t0 = None

    def guest_path(self, host_path):
        return "/mnt/" + str(Path(host_path).relative_to(self.workdir))

    def command(self):
        cmd = ["qemu-system-x86_64", "-nodefaults", "-machine", "q35", "-accel", "tcg",
               "-display", "none", "-serial", "stdio", "-monitor", "none",
               "-kernel", guest_kernel(self.chroot), "-initrd", self.guest_path(self.initrd),
               "-append", f"console=ttyS0 panic=-1 quiet {self.append}".strip()]
        if self.memfd:
            cmd += ["-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                    "-machine", "memory-backend=mem", "-m", "256M"]
        else:
            cmd += ["-m", "256M"]
        if not self.reboot:
            cmd += ["-no-reboot"]
        for i, s in enumerate(self.sockets):
            cmd += ["-device", vfio_user_device(self.guest_path(s), f"mtty{i}")]
        return cmd

    def start(self):
        # In a private mount namespace: bind the work directory and proc into the chroot, then
        # chroot and exec QEMU; --kill-child takes QEMU down if unshare dies, and unshare dies
        # with us.
        script = ('set -e; w=$1; r=$2; shift 2; mount --bind "$w" "$r/mnt"; '
                  'mount -t proc proc "$r/proc"; exec chroot "$r" "$@"')
        args = ["setpriv", "--pdeathsig", "KILL", "unshare", "--mount", "--propagation",
                "private", "--fork", "--kill-child=SIGKILL", "--", "/bin/sh", "-c", script, "sh",
                str(self.workdir), str(self.chroot)] + self.command()
        self.argv = args
        self.t0 = time.monotonic()
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err)
        threading.Thread(target=self._reader, daemon=True).start()
        self.wait_boot(1)
        return self

    def _reader(self):
        buf = b""
        with open(self.console_path, "wb") as log:
            while True:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                log.write(chunk)
                log.flush()
                buf += chunk
                *complete, buf = buf.split(b"\n")
                if complete:
                    with self.cond:
                        for line in complete:
                            text = line.decode(errors="replace").rstrip("\r")
                            if text.startswith("@@ hello"):
                                self.boots.append(time.monotonic() - self.t0)
                            self.lines.append(text)
                        self.cond.notify_all()
        with self.cond:
            if buf:
                self.lines.append(buf.decode(errors="replace").rstrip("\r"))
            self.eof = True
            self.cond.notify_all()

    # ---- waiting on the console ----

    def wait_line(self, regex, timeout, start=0):
        """Index and match of the first console line from @start matching @regex."""
        r = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = r.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                if self.eof:
                    raise HarnessError(f"QEMU's console ended before /{regex}/:\n"
                                       + self.describe())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HarnessError(f"no console line /{regex}/ within {timeout} s:\n"
                                       + self.describe())
                self.cond.wait(left)

    def wait_boot(self, n, timeout=BOOT_TIMEOUT):
        """Wait until the guest has said "@@ hello" @n times since QEMU started."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.boots) < n:
                if self.eof:
                    raise HarnessError(f"QEMU's console ended before boot {n}:\n"
                                       + self.describe())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HarnessError(f"boot {n} did not reach /init within {timeout} s:\n"
                                       + self.describe())
                self.cond.wait(left)
            return self.boots[n - 1]

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def begin(self, cmd):
        """Send @cmd to the guest; returns its sequence number once the guest began it."""
        self.seq += 1
        seq = self.seq
        with self.cond:
            start = len(self.lines)
        self.send(f"{seq} {cmd}")
        i, _ = self.wait_line(rf"^@@ {seq} begin$", 30, start)
        return seq, i

    def finish(self, seq, start, timeout=120):
        """The exit status and output lines of command @seq."""
        i, m = self.wait_line(rf"^@@ {seq} end (\d+)$", timeout, start)
        with self.cond:
            out = self.lines[start + 1:i]
        return int(m.group(1)), out

    def run(self, cmd, timeout=120, check=True):
        seq, i = self.begin(cmd)
        rc, out = self.finish(seq, i, timeout)
        if check and rc != 0:
            raise HarnessError(f"guest command {cmd!r} exited {rc}:\n" + "\n".join(out)
                               + "\n" + self.describe())
        return out if check else (rc, out)

    # ---- life cycle ----

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def poweroff(self, timeout=60):
        """Ask the guest to power off; QEMU must then exit 0."""
        self.send(f"{self.seq + 1} poweroff -f")
        self.seq += 1
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"QEMU did not exit within {timeout} s of poweroff:\n"
                               + self.describe())
        if rc != 0:
            raise HarnessError(f"QEMU exited with {rc} after poweroff:\n" + self.describe())
        return rc

    def close(self):
        """Kill QEMU if it still runs (SIGKILL to unshare, whose --kill-child kills QEMU).
        Idempotent."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    # ---- diagnostics ----

    def qemu_stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def describe(self, tail=80):
        with self.cond:
            lines = self.lines[-tail:]
        status = "running" if self.alive() else f"exited {self.proc.returncode}"
        parts = [f"--- QEMU ({status}): {' '.join(self.command())}",
                 f"--- guest console, last {len(lines)} lines ({self.console_path})",
                 *lines,
                 "--- QEMU stderr", self.qemu_stderr().rstrip()]
        if self.daemon is not None:
            parts += ["--- umdevd stderr", self.daemon.stderr().rstrip()]
        return "\n".join(parts)
