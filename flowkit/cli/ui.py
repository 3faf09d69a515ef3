"""`flowkit ui`: serve the read-only web UI over a datastore (needs the ``ui`` extra)."""

from __future__ import annotations

from pathlib import Path

import click

from flowkit.cli.params import datastore_root_option
from flowkit.errors import FlowkitError

DEFAULT_PORT = 8325


@click.command("ui")
@datastore_root_option
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (127.0.0.1: this machine only)."
)
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
def ui_command(datastore_root: Path | None, host: str, port: int) -> None:
    """Browse flows, runs, tasks, logs, artifacts and cards in a web browser."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise FlowkitError("flowkit ui needs the ui extra: pip install 'flowkit[ui]'") from None
    from flowkit.datastore import resolve_datastore_root
    from flowkit.ui.server import serve

    root = resolve_datastore_root(datastore_root)
    click.echo(f"flowkit ui: {root} at http://{host}:{port}/ (Ctrl-C to stop)")
    serve(root, host, port)
