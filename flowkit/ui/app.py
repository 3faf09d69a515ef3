"""The web app: Starlette routes over a `RunReader`, every one read-only (GET).

Starlette (with uvicorn as the server) because it is small, typed and maintained, routes plain functions without
a framework's worth of conventions, and serves HTML and files with nothing else installed; its handlers may be plain
functions, which run in a thread pool, so blocking file reads do not stall the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.cards.storage import list_cards
from flowkit.errors import DataStoreError
from flowkit.identity import TaskRef, checked_task_id, index_path_of_task_id
from flowkit.ui import pages
from flowkit.ui.runs import RunReader

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request


def create_app(datastore_root: str | Path | None) -> Starlette:
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse, Response
    from starlette.routing import Route

    reader = RunReader(datastore_root)

    def flows(request: Request) -> Response:
        summaries = []
        for flow in reader.flows():
            run_ids = reader.run_ids(flow)
            summaries.append((flow, reader.run(flow, run_ids[0]) if run_ids else None, len(run_ids)))
        return HTMLResponse(pages.flows_page(summaries))

    def runs(request: Request) -> Response:
        flow = request.path_params["flow"]
        if flow not in reader.flows():
            raise DataStoreError(f"no flow {flow} in {reader.store.root}")
        return HTMLResponse(pages.runs_page(flow, [reader.run(flow, run_id) for run_id in reader.run_ids(flow)]))

    def run(request: Request) -> Response:
        view = reader.run(request.path_params["flow"], request.path_params["run_id"])
        if view.record is None and not view.steps:
            raise DataStoreError(f"no run {view.flow}/{view.run_id}")
        return HTMLResponse(pages.run_page(view, reader.parameters(view)))

    def task(request: Request) -> Response:
        flow, run_id, step, task_id = (request.path_params[key] for key in ("flow", "run_id", "step", "task_id"))
        coords = TaskRef(flow, run_id, step, index_path_of_task_id(checked_task_id(task_id)))
        view = reader.task(flow, run_id, step, task_id)
        if view.latest is None and not reader.store.task_dir(coords).is_dir():
            raise DataStoreError(f"no task {coords} in {reader.store.root}")
        attempt_text = request.query_params.get("attempt")
        attempt = int(attempt_text) if attempt_text and attempt_text.isdigit() else None
        shown = attempt if attempt is not None else (view.latest.attempt if view.latest else 0)
        logs = {stream: reader.store.read_log(coords, shown, stream) for stream in ("out", "err")}
        cards = list_cards(reader.store, coords)
        return HTMLResponse(pages.task_page(reader.store, coords, view, attempt, logs, cards))

    def card(request: Request) -> Response:
        flow, run_id, step, task_id = (request.path_params[key] for key in ("flow", "run_id", "step", "task_id"))
        coords = TaskRef(flow, run_id, step, index_path_of_task_id(checked_task_id(task_id)))
        name = request.path_params["name"]
        for stored in list_cards(reader.store, coords):  # only a listed card file is ever served
            if stored.path.name == name:
                return FileResponse(stored.path, media_type="text/html")
        raise DataStoreError(f"no card {name} for {flow}/{run_id}/{step}/{task_id}")

    def no_icon(request: Request) -> Response:
        """Browsers ask every site for an icon (cards opened from the UI too); a 404 would fill their consoles."""
        return Response(status_code=204)

    async def not_found(request: Request, error: Exception) -> Response:
        reason = getattr(error, "detail", None) or str(error)  # a route that does not exist: Starlette's own text
        return HTMLResponse(pages.not_found_page(reason), status_code=404)

    return Starlette(
        routes=[
            Route("/", flows),
            Route("/favicon.ico", no_icon),
            Route("/flows/{flow}", runs),
            Route("/runs/{flow}/{run_id}", run),
            Route("/runs/{flow}/{run_id}/{step}/{task_id}", task),
            Route("/cards/{flow}/{run_id}/{step}/{task_id}/{name}", card),
        ],
        exception_handlers={DataStoreError: not_found, ValueError: not_found, 404: not_found},
    )
