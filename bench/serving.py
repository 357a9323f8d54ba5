"""Serving the project on loopback for the benchmarks that drive it over HTTP: a free port, and
waiting until the server started there answers. No Django import, so any benchmark can use it
before it sets Django up."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(process: subprocess.Popen, port: int, seconds: float, what: str) -> None:
    """Return once `port` on 127.0.0.1 accepts a connection; stop `process` and raise if it
    ends first or `seconds` pass."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} stopped while starting (see its messages above)")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    process.terminate()
    process.wait(timeout=10)
    raise RuntimeError(f"{what} did not start within {seconds:.0f} s")
