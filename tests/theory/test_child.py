"""``in_child``: a spawned child where TensorFlow is not yet imported, this process where it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from rethinking.theory.child import in_child

FRESH_PARENT = textwrap.dedent("""
    import json, os, sys
    import rethinking.cli  # the command's process: its import must leave TensorFlow out, or no child is used
    from rethinking.theory.child import in_child
    child_pid = in_child("os:getpid")
    try:
        in_child("json:loads", s="{")
        raised = None
    except ValueError as err:
        raised = type(err).__name__
    print(json.dumps({"parent": os.getpid(), "child": child_pid, "raised": raised,
                      "tensorflow_here": "tensorflow" in sys.modules}))
""")


def test_without_tensorflow_the_function_runs_in_a_child_and_its_errors_come_back():
    out = subprocess.run([sys.executable, "-c", FRESH_PARENT], capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["child"] != seen["parent"]
    assert seen["raised"] == "JSONDecodeError" and not seen["tensorflow_here"]


def test_with_tensorflow_imported_the_function_runs_here():
    import tensorflow  # noqa: F401, PLC0415 (as in the CLI once anything trained)

    assert in_child("os:getpid") == os.getpid()
    with pytest.raises(json.JSONDecodeError):
        in_child("json:loads", s="{")
