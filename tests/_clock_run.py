"""``python tests/_clock_run.py MODULE ARGS``: run MODULE as ``__main__`` at CITYLOOP_TEST_CLOCK (ticking)."""

import os
import runpy
import sys
from contextlib import nullcontext
from datetime import datetime

import time_machine

if __name__ == "__main__":
    when = os.environ.get("CITYLOOP_TEST_CLOCK")
    module, sys.argv = sys.argv[1], [sys.argv[1], *sys.argv[2:]]
    with time_machine.travel(datetime.fromisoformat(when), tick=True) if when else nullcontext():
        runpy.run_module(module, run_name="__main__", alter_sys=True)
