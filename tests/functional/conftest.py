# SPDX-License-Identifier: MIT
"""Fixtures of the functional suite: a fresh umdevd per test (umdevd_fixture.py)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umdevd_fixture import Umdevd  # noqa: E402


@pytest.fixture
def umdevd(tmp_path):
    """A running umdevd with the default mtty parent; stopped and checked after the test."""
    d = Umdevd(tmp_path).start()
    try:
        yield d
        d.stop()
        d.check_output()
    finally:
        d.kill()  # no-op once stopped


@pytest.fixture
def make_umdevd(tmp_path):
    """Factory for tests that start umdevd themselves; anything left running is killed."""
    started = []

    def make(args=(), name="umdevd"):
        d = Umdevd(tmp_path, args=args, name=name)
        started.append(d)
        return d

    yield make
    for d in started:
        d.kill()
