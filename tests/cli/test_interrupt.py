"""Ctrl-C: the command stops cleanly and says what it left running on Dune."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import duneasync
from duneasync.testing import FakeDune, FakeServer

from .conftest import SLOW

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics are POSIX")


def cli_env(fake: FakeDune) -> dict[str, str]:
    """The environment of a subprocess that imports this very duneasync, with the fake's key."""
    source = str(Path(duneasync.__file__).parent.parent)
    path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "DUNE_API_KEY": fake.api_key}


def interrupt_run(fake: FakeDune, server: FakeServer, *extra: str) -> tuple[int, str, str]:
    """Start ``duneasync run SLOW``, press Ctrl-C once it has started, return what it said."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "duneasync",
            "run",
            str(SLOW),
            "--progress",
            "plain",
            "--base-url",
            server.base_url,
            *extra,
        ],
        env=cli_env(fake),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        for line in process.stderr:  # the execution is running once its first state is shown
            seen.append(line)
            if ": EXECUTING" in line:
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out, "".join(seen) + err


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_leaves_the_execution_running_and_says_how_to_stop_it(
    fake: FakeDune, server: FakeServer, backend: str
) -> None:
    code, out, err = interrupt_run(fake, server, "--backend", backend)

    [execution_id] = fake.execution_ids()
    assert code == 130, err
    assert out == ""
    assert (
        f"interrupted: execution {execution_id} is still running on Dune"
        f" (stop it with: duneasync cancel {execution_id})"
    ) in err.splitlines()
    assert "Traceback" not in err
    assert fake.execution(execution_id).state == "QUERY_STATE_EXECUTING"


def test_ctrl_c_with_cancel_on_interrupt_cancels_the_execution(
    fake: FakeDune, server: FakeServer
) -> None:
    code, _, err = interrupt_run(fake, server, "--cancel-on-interrupt")

    [execution_id] = fake.execution_ids()
    assert code == 130, err
    assert f"interrupted: cancelled execution {execution_id} on Dune" in err.splitlines()
    assert "still running" not in err
    assert fake.execution(execution_id).state == "QUERY_STATE_CANCELLED"
