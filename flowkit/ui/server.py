"""Run the UI's app with uvicorn: in the foreground for `flowkit ui`, or on a background thread for tests, the
screenshot script and the benchmark, which need a real server on a free local port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flowkit.ui.app import create_app


def serve(root: Path, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(root), host=host, port=port, log_level="warning")


@contextmanager
def background_server(root: Path, *, start_timeout: float = 20.0) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 at a free port while the block runs; yields the base URL."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(create_app(root), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="flowkit-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the UI server did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
