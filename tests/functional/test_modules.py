# SPDX-License-Identifier: MIT
"""umdevd's driver modules (issue 9, umdev/module.h): --driver by name, by path and built in,
parameters, init and exit order, and every reason a module is refused at start.

UMDEV_MTTY_MODULE names the built mtty.so; UMDEV_TEST_MODULES the directory of the test
modules of tests/modules (tmod.so, tmod2.so, bad_abi.so, bad_symbol.so).
"""
import errno
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from umdevd_fixture import fuse_mounted

MTTY_SO = Path(os.environ.get("UMDEV_MTTY_MODULE", "/nonexistent/mtty.so"))
TEST_MODULES = Path(os.environ.get("UMDEV_TEST_MODULES", "/nonexistent"))


def refused(make_umdevd, args, timeout=60):
    """Start umdevd with @args; it must refuse: exit 1, nothing mounted. Returns its stderr."""
    d = make_umdevd(args=args)
    p = subprocess.run(d.command(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 1, f"status {p.returncode}:\n{p.stderr}"
    assert not fuse_mounted(d.root)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    return p.stderr


def test_module_default_is_the_built_in_mtty(make_umdevd):
    d = make_umdevd(args=["--log-level", "info"]).start()
    assert d.available("mtty-1") == 24
    d.stop()
    assert "module 'mtty' (built in) loaded" in d.stderr()
    assert "module 'mtty' unloaded" in d.stderr()
    d.check_output()


def test_module_mtty_so_parents_8_serves_8_times_24_ports(make_umdevd):
    """seed 001's "8 GPUs x 16 devices" as `--driver mtty:parents=8`: 8 parents, 24 ports each."""
    d = make_umdevd(args=["--log-level", "info", "--driver",
                          f"{MTTY_SO}:parents=8,backend=loopback"]).start()
    names = ["mtty"] + [f"mtty{i}" for i in range(1, 8)]
    assert sorted(os.listdir(d.sys / "class/mdev_bus")) == sorted(names)
    for p in names:
        assert d.available("mtty-1", p) == 24
        assert d.available("mtty-2", p) == 12
    created = []
    for p in names:  # each parent's budget is its own: fill every one with 12 dual-port devices
        for _ in range(12):
            u = str(uuid.uuid4())
            d.create(u, "mtty-2", p)
            created.append(u)
        assert d.available("mtty-1", p) == 0
        assert d.create_errno(str(uuid.uuid4()), "mtty-1", p) != 0
    assert len(d.devices()) == 8 * 12
    d.stop()
    assert f"module 'mtty' ({MTTY_SO.resolve()}) loaded" in d.stderr()
    assert "mtty: 8 parents of 24 ports, backend loopback" in d.stderr()
    assert "removed 96 mdevs" in d.stderr()
    d.check_output()


def test_module_by_name_from_the_module_dir(make_umdevd):
    d = make_umdevd(args=["--log-level", "info", "--module-dir", str(MTTY_SO.parent),
                          "--driver", "mtty:ports=4"]).start()
    assert d.available("mtty-1") == 4
    assert d.available("mtty-2") == 2
    d.stop()
    assert f"module 'mtty' ({MTTY_SO.resolve()}) loaded" in d.stderr()
    d.check_output()


def test_module_parameters_of_each_type(make_umdevd):
    d = make_umdevd(args=["--driver", f"{TEST_MODULES}/tmod.so:verbose,count=0x7,offset=-5,"
                          "parent=p0"]).start()
    assert (d.sys / "class/mdev_bus/p0").is_symlink()
    assert (d.sys / "devices/virtual/tmod/p0/mdev_supported_types/tmod-1").is_dir()
    d.stop()
    assert (f"tmod: init verbose=1 count=7 offset=-5 parent=p0 rundir={d.rundir.resolve()}"
            in d.stderr())
    d.check_output()


def test_module_defaults_without_parameters(make_umdevd):
    d = make_umdevd(args=["--driver", f"{TEST_MODULES}/tmod.so"]).start()
    d.stop()
    assert "tmod: init verbose=0 count=3 offset=-1 parent=tmod-parent" in d.stderr()
    d.check_output()


def test_modules_init_in_order_and_exit_newest_first(make_umdevd):
    d = make_umdevd(args=["--driver", f"{TEST_MODULES}/tmod.so",
                          "--driver", f"{TEST_MODULES}/tmod2.so", "--driver", "mtty"]).start()
    assert d.available("mtty-1") == 24
    d.stop()
    log = d.stderr()
    order = [m.group(0) for m in re.finditer(r"tmod2?: (init|exit)", log)]
    assert order == ["tmod: init", "tmod2: init", "tmod2: exit", "tmod: exit"], log
    d.check_output()


def test_module_help_lists_the_parameters(make_umdevd):
    d = make_umdevd(args=["--driver", f"{TEST_MODULES}/tmod.so", "--help"])
    p = subprocess.run(d.command(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert re.search(r"^Module tmod \(.*tmod\.so\): a test module$", p.stdout, re.M), p.stdout
    for line in [r"verbose\s+a bool \(bool, default n\)",
                 r"count\s+a uint in 1\.\.10 \(1\.\.10, default 3\)",
                 r"offset\s+an int in -5\.\.5 \(-5\.\.5, default -1\)",
                 r"parent\s+the parent's name \(string, default 'tmod-parent'\)"]:
        assert re.search(line, p.stdout), (line, p.stdout)
    assert not fuse_mounted(d.root)


def test_module_help_of_the_built_in_mtty(make_umdevd):
    d = make_umdevd(args=["--driver", "mtty", "--help"])
    p = subprocess.run(d.command(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Module mtty (built in)" in p.stdout
    for key in ["parents", "ports", "backend"]:
        assert re.search(rf"^  {key}\s", p.stdout, re.M), p.stdout


def test_module_built_for_another_abi_is_refused(make_umdevd):
    err = refused(make_umdevd, ["--driver", f"{TEST_MODULES}/bad_abi.so"])
    assert re.search(r"module '.*bad_abi\.so' was built for umdev ABI 1, but this umdevd has "
                     r"ABI 0", err), err


def test_module_with_a_missing_symbol_is_refused(make_umdevd):
    err = refused(make_umdevd, ["--driver", f"{TEST_MODULES}/bad_symbol.so"])
    assert re.search(r"module '.*bad_symbol\.so': cannot load: .*undefined symbol: "
                     r"umdev_no_such_function", err), err


def test_a_library_that_is_no_module_is_refused(make_umdevd):
    err = refused(make_umdevd, ["--driver", "/lib/x86_64-linux-gnu/libuuid.so.1"])
    assert "no symbol umdev_module_info: not a umdev module" in err, err


@pytest.mark.parametrize("spec, message", [
    ("tmod.so:colour=red", r"module 'tmod': unknown parameter 'colour'"),
    ("tmod.so:count=11", r"module 'tmod': parameter 'count': '11' is not a number in 1\.\.10"),
    ("tmod.so:count=3x", r"parameter 'count': '3x' is not a number"),
    ("tmod.so:offset=-6", r"parameter 'offset': '-6' is not a number in -5\.\.5"),
    ("tmod.so:verbose=maybe", r"parameter 'verbose': 'maybe' is not a boolean"),
    ("tmod.so:count", r"parameter 'count' needs a value"),
    ("tmod.so:count=2,,offset=1", r"module 'tmod': empty parameter"),
])
def test_module_bad_parameter_is_refused(make_umdevd, spec, message):
    err = refused(make_umdevd, ["--driver", f"{TEST_MODULES}/{spec}"])
    assert re.search(message, err), err
    assert "tmod: init" not in err  # refused before anything of it ran


def test_module_not_found_is_refused(make_umdevd, tmp_path):
    err = refused(make_umdevd, ["--module-dir", str(tmp_path), "--driver", "nosuchdrv"])
    assert f"module 'nosuchdrv' not found in {tmp_path}, nor built in" in err, err
    err = refused(make_umdevd, ["--driver", "bad/name:x=1"])
    assert "module 'bad/name': No such file or directory" in err, err


def test_module_loaded_twice_is_refused(make_umdevd):
    err = refused(make_umdevd, ["--driver", f"{MTTY_SO}", "--driver", "mtty"])
    assert "module 'mtty' (built in) is already loaded from" in err, err


def test_module_whose_init_fails_is_refused_and_the_others_exit(make_umdevd):
    """The second module's init fails: the first one's exit runs, newest first, and nothing
    of either stays registered (an ASan build would report what stayed allocated)."""
    err = refused(make_umdevd, ["--log-level", "info", "--driver", f"{TEST_MODULES}/tmod.so",
                                "--driver", f"{TEST_MODULES}/tmod2.so:fail={errno.ENODEV}"])
    assert re.search(r"module 'tmod2' \(.*tmod2\.so\): init failed: No such device", err), err
    order = [m.group(0) for m in re.finditer(r"tmod2?: (init|exit)", err)]
    assert order == ["tmod: init", "tmod2: init", "tmod: exit"], err


def test_module_mtty_bad_backend_is_refused(make_umdevd):
    err = refused(make_umdevd, ["--driver", "mtty:backend=serial"])
    assert "mtty: backend 'serial' is neither pty nor loopback" in err, err
    assert "module 'mtty' (built in): init failed: Invalid argument" in err, err
