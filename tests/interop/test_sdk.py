# SPDX-License-Identifier: MIT
"""The driver SDK as a vendor uses it (issue 9, item 5).

umdev is installed from the build under test with `meson install --destdir` into a temporary
directory; examples/pci-echo is configured and built against that tree with meson and ninja,
finding umdev through pkg-config only, in a temporary build directory; the installed umdevd,
on the installed libumdev.so.0, loads the built module with a parameter; stock mdevctl creates
a device through umdev-exec; the vfio-user test client (tests/functional/vfio_client.py)
drives it: scratch register, BAR sizing, MSI doorbell, reset.

UMDEV_BUILD_ROOT and UMDEV_SOURCE_ROOT name the build directory under test and its sources
(tests/interop/meson.build). Nothing is written into either but meson's install log.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Env
from test_mdevctl import parse_types
from umdevd_fixture import Umdevd
from vfio_client import (ACTION_TRIGGER, DATA_EVENTFD, INTX, MSI, Client, VfioError, ev_wait,
                         eventfd)

U1 = "c0ffee00-5d1c-4e0b-9a1e-6b2f0c3d4e51"

# examples/pci-echo/pci_echo.c: its name, IDs and BAR0 registers
PARENT, TYPE = "pci_echo", "pci_echo-1"
VENDOR_ID, DEVICE_ID, CLASS_CODE = 0x1AF4, 0x10F0, 0xFF0000
SCRATCH, DOORBELL, DOORBELLS = 0x0, 0x4, 0x8

TIMEOUT = 600  # seconds for one meson or ninja run on a busy machine


def env_path(name):
    p = os.environ.get(name)
    if not p:
        pytest.fail(f"{name} is not set: run the tests through `meson test`")
    return Path(p)


def run(cmd, **kwargs):
    """Run @cmd; fail the test with its output unless it exits 0. Returns its stdout."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL, **kwargs)
    assert r.returncode == 0, f"{cmd}: status {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def meson():
    exe = shutil.which("meson")
    if not exe:
        pytest.fail("meson is not in PATH (scripts/install-deps.sh installs it)")
    return exe


def snapshot(root):
    """Every path below @root with its size and mtime: to show a build wrote nothing there."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_size, st.st_mtime_ns)
    return out


class Sdk:
    """umdev installed into @destdir; install paths are those of `meson introspect`."""

    def __init__(self, build, destdir):
        self.destdir = destdir
        self.version = json.loads(run([meson(), "introspect", build, "--projectinfo"]))["version"]
        self.installed = json.loads(run([meson(), "introspect", build, "--installed"]))

    def path(self, suffix):
        """The one installed file (in the destdir) whose install path ends with @suffix."""
        hits = [p for p in self.installed.values() if p.endswith("/" + suffix)]
        assert len(hits) == 1, f"{suffix}: {hits}"
        return self.destdir / hits[0].lstrip("/")

    @property
    def libdir(self):
        return self.path("libumdev.so.0").parent

    @property
    def pkgconfig_env(self):
        """pkg-config finds umdev in the destdir, and its flags point into the destdir."""
        return dict(os.environ, PKG_CONFIG_PATH=str(self.path("umdev.pc").parent),
                    PKG_CONFIG_SYSROOT_DIR=str(self.destdir))


@pytest.fixture(scope="module")
def sdk(tmp_path_factory):
    """`meson install --destdir` of the build under test: no rebuild, nothing outside tmp."""
    build = env_path("UMDEV_BUILD_ROOT")
    destdir = tmp_path_factory.mktemp("destdir")
    run([meson(), "install", "-C", build, "--no-rebuild", "--destdir", destdir, "--quiet"])
    return Sdk(build, destdir)


class Example:
    """examples/pci-echo configured, built and installed against the SDK in @builddir."""

    def __init__(self, src, builddir):
        self.src = src
        self.builddir = builddir
        self.module = builddir / "pci_echo.so"


@pytest.fixture(scope="module")
def example(sdk, tmp_path_factory):
    src = env_path("UMDEV_SOURCE_ROOT") / "examples/pci-echo"
    before = snapshot(src)
    builddir = tmp_path_factory.mktemp("pci-echo-build")
    # a prefix of its own in tmp: an install_dir that is not umdev's moduledir lands there,
    # never in the real /usr/local
    prefix = tmp_path_factory.mktemp("pci-echo-prefix")
    env = sdk.pkgconfig_env
    run([meson(), "setup", "-Dwerror=true", f"--prefix={prefix}", builddir, src], env=env)
    run(["ninja", "-C", builddir], env=env)
    # the module's install_dir is umdev's moduledir, which pkg-config (pkgconf) reports inside
    # the sysroot, i.e. in the destdir: installing needs no --destdir of its own
    moduledir = run(["pkg-config", "--variable=moduledir", "umdev"], env=env).strip()
    assert moduledir.startswith(f"{sdk.destdir}/"), f"moduledir {moduledir} outside the destdir"
    run([meson(), "install", "-C", builddir, "--no-rebuild", "--quiet"], env=env)
    assert snapshot(src) == before, "building the example wrote into the source tree"
    return Example(src, builddir)


class InstalledUmdevd(Umdevd):
    """The installed umdevd, on the installed libumdev.so.0 (LD_LIBRARY_PATH)."""

    def __init__(self, tmp_path, sdk, args):
        super().__init__(tmp_path, args=args)
        self.sdk = sdk

    def command(self):
        cmd = super().command()  # the fixture's options, then ours
        return (["env", f"LD_LIBRARY_PATH={self.sdk.libdir}", str(self.sdk.path("umdevd"))]
                + cmd[1:])


def readelf_dynamic(path):
    return run(["readelf", "-d", path])


# ---- the installed tree ----

def test_sdk_install_has_library_headers_pc_daemon_and_mtty(sdk):
    lib = sdk.path("libumdev.so.0")
    assert lib.is_symlink() and lib.resolve().is_file()
    assert "Library soname: [libumdev.so.0]" in readelf_dynamic(lib)
    assert sdk.path("libumdev.so").is_symlink()  # for -lumdev
    headers = sorted(p.name for p in (env_path("UMDEV_SOURCE_ROOT") / "include/umdev").glob("*.h"))
    assert {"mdev.h", "vfio.h", "pci.h", "module.h", "log.h"} <= set(headers)
    incdir = sdk.path("umdev/mdev.h").parent
    assert sorted(os.listdir(incdir)) == headers
    assert sdk.path("pkgconfig/umdev.pc").is_file()
    assert os.access(sdk.path("sbin/umdevd"), os.X_OK)
    assert sdk.path("umdev/drivers/mtty.so").is_file()
    # the daemon and the module find libumdev.so.0 by its SONAME, not in the build tree
    for f in (sdk.path("sbin/umdevd"), sdk.path("umdev/drivers/mtty.so")):
        dyn = readelf_dynamic(f)
        assert "Shared library: [libumdev.so.0]" in dyn
        assert str(env_path("UMDEV_BUILD_ROOT")) not in dyn, f"{f} keeps a build-tree rpath"


def test_sdk_pkg_config_points_into_the_install(sdk):
    env = sdk.pkgconfig_env
    assert run(["pkg-config", "--modversion", "umdev"], env=env).strip() == sdk.version
    cflags = run(["pkg-config", "--cflags", "umdev"], env=env).split()
    assert f"-I{sdk.path('umdev/mdev.h').parent.parent}" in cflags
    libs = run(["pkg-config", "--libs", "umdev"], env=env).split()
    assert f"-L{sdk.libdir}" in libs and "-lumdev" in libs
    moduledir = run(["pkg-config", "--variable=moduledir", "umdev"], env=env).strip()
    assert moduledir == str(sdk.path("umdev/drivers/mtty.so").parent)


# ---- the example, built as a vendor builds it ----

def test_sdk_example_builds_against_the_install_only(sdk, example):
    cmds = json.loads((example.builddir / "compile_commands.json").read_text())
    assert [Path(c["file"]).name for c in cmds] == ["pci_echo.c"]
    args = cmds[0]["command"].split()
    incs = [os.path.normpath(os.path.join(cmds[0]["directory"], a[2:]))
            for a in args if a.startswith("-I")]
    assert str(sdk.path("umdev/mdev.h").parent.parent) in incs
    src_root = str(env_path("UMDEV_SOURCE_ROOT")) + "/"
    assert [p for p in incs if p.startswith(src_root) and Path(p) != example.src] == [], args
    # a module exports its declaration only and needs libumdev.so.0
    nm = run(["nm", "-D", "--defined-only", example.module])
    assert [line.split()[-1] for line in nm.splitlines()] == ["umdev_module_info"], nm
    assert "Shared library: [libumdev.so.0]" in readelf_dynamic(example.module)
    # meson install put it beside mtty.so, where umdevd looks for modules by name
    assert (sdk.path("umdev/drivers/mtty.so").parent / "pci_echo.so").is_file()


def test_sdk_installed_example_loads_by_name_and_lists_its_parameter(sdk, example, tmp_path):
    """`umdevd --driver pci_echo` finds the installed module in the module directory."""
    moduledir = sdk.path("umdev/drivers/mtty.so").parent
    d = InstalledUmdevd(tmp_path, sdk, args=["--module-dir", str(moduledir),
                                             "--driver", "pci_echo", "--help"])
    r = subprocess.run(d.command(), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    m = re.search(r"^Module pci_echo \((\S*)\): example PCI device", r.stdout, re.M)
    assert m, r.stdout
    assert Path(m.group(1)).resolve() == (moduledir / "pci_echo.so").resolve()
    assert re.search(r"^  instances +.*\(1\.\.64, default 4\)$", r.stdout, re.M), r.stdout


# ---- the example's device, created by mdevctl and driven over vfio-user ----

def vfio_socket(d, uuid):
    names = os.listdir(d.dev_dir(uuid, parent=PARENT, cls=PARENT) / "vfio-dev")
    assert len(names) == 1 and names[0].startswith("vfio")
    return d.rundir / "vfio/devices" / names[0]


def reg(c, offset):
    return int.from_bytes(c.read(0, offset, 4), "little")


def set_reg(c, offset, value):
    c.write(0, offset, value.to_bytes(4, "little"))


def check_device(c):
    """The device of examples/pci-echo as its comment describes it."""
    assert c.device_info() == (16, 0x3, 9, 5)  # PCI | RESET, 9 regions, 5 irq indexes
    assert c.region_info(0) == (0x3, 4096)  # BAR0: read | write, 4 KiB
    for i in range(1, 6):
        assert c.region_info(i) == (0, 0)
    assert c.irq_info(MSI)[1] == 1 and c.irq_info(INTX)[1] == 0
    # config space: IDs, class, revision, the MSI capability, BAR0's sizing protocol
    assert c.cfg(0x00, 4) == DEVICE_ID << 16 | VENDOR_ID
    assert c.cfg(0x08, 4) == CLASS_CODE << 8 | 0x01
    assert c.cfg(0x34, 1) == 0x40 and c.cfg(0x40, 1) == 0x05
    c.cfg_write(0x10, 4, 0xFFFFFFFF)
    assert c.cfg(0x10, 4) == 0xFFFFF000  # 4 KiB, 32-bit, non-prefetchable memory

    # SCRATCH reads back what was written; DOORBELL reads 0; registers are accessed whole
    assert reg(c, SCRATCH) == 0
    for value in (0xDEADBEEF, 0x12345678):
        set_reg(c, SCRATCH, value)
        assert reg(c, SCRATCH) == value
    assert reg(c, DOORBELL) == 0 and reg(c, 0xFFC) == 0
    for offset, count in ((SCRATCH, 2), (SCRATCH + 2, 4), (SCRATCH, 8)):
        with pytest.raises(VfioError) as e:
            c.read(0, offset, count)
        assert e.value.errno == 22  # EINVAL
    assert reg(c, SCRATCH) == 0x12345678

    # a DOORBELL write raises MSI vector 0, and only that
    efd = eventfd()
    try:
        set_reg(c, DOORBELL, 1)  # no eventfd yet: dropped, but counted
        c.set_irqs(MSI, ACTION_TRIGGER | DATA_EVENTFD, fds=[efd])
        set_reg(c, SCRATCH, 1)
        assert ev_wait(efd, 0.3) == 0
        for n in (2, 3):
            set_reg(c, DOORBELL, 0)
            assert ev_wait(efd, 2.0) == 1
            assert reg(c, DOORBELLS) == n
        set_reg(c, DOORBELLS, 0)  # read-only
        assert reg(c, DOORBELLS) == 3
        assert ev_wait(efd, 0.3) == 0
    finally:
        os.close(efd)

    c.reset()  # registers to power-on values
    assert reg(c, SCRATCH) == 0 and reg(c, DOORBELLS) == 0


def test_sdk_example_device_through_mdevctl_and_vfio_user(sdk, example, tmp_path):
    d = InstalledUmdevd(tmp_path, sdk, args=["--log-level", "info",
                                             "--driver", f"{example.module}:instances=3"])
    d.start()
    try:
        # the installed library, not the build tree's, and the module built above
        maps = Path(f"/proc/{d.proc.pid}/maps").read_text()
        assert str(sdk.path("libumdev.so.0").resolve()) in maps
        assert str(example.module) in maps
        env = Env(d, tmp_path / "mdevctl.d")
        assert parse_types(env.mdevctl("types", check=True).stdout) == {PARENT: {TYPE: {
            "Available instances": "3", "Device API": "vfio-pci",
            "Name": "Echo device: scratch register and MSI doorbell"}}}

        env.mdevctl("start", "-u", U1, "-p", PARENT, "-t", TYPE, check=True)
        assert [line.split()[:3] for line in env.mdevctl("list", check=True).stdout.splitlines()
                if line.strip()] == [[U1, PARENT, TYPE]]
        assert d.devices() == [U1]
        assert d.available(TYPE, PARENT) == 2

        c = Client(vfio_socket(d, U1)).version()
        try:
            check_device(c)
        finally:
            c.close()

        env.mdevctl("stop", "-u", U1, check=True)
        assert d.devices() == []
        assert d.available(TYPE, PARENT) == 3
        d.stop()
        log = d.stderr()
        assert f"module 'pci_echo' ({example.module.resolve()}) loaded" in log
        assert "pci_echo: parent 'pci_echo', 3 instances" in log
        assert "module 'pci_echo' unloaded" in log
        d.check_output()
    finally:
        d.kill()
