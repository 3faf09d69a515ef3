"""What the user sees while a run goes: task output prefixed with `[step/task_id]`, and a progress line.

The progress display uses rich only when stdout is a terminal, and rich's Live is created without its refresh
thread (the scheduler forks, and forking a process that runs threads is unsafe): the scheduler's loop refreshes it.
In a pipe, a file or a notebook the display stays quiet and only the tasks' output lines are written.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from flowkit.plain_data import PlainData, field

REFRESH_SECONDS = 0.1


class TaskOutput(PlainData):
    """Splits one task attempt's output into lines, holding back a partial line until it completes."""

    prefix: str
    partial: dict[str, bytes] = field(default_factory=lambda: {"out": b"", "err": b""})

    def feed(self, stream: str, data: bytes) -> list[str]:
        """Take `data` from `stream` ("out"/"err") and return the lines it completed."""
        *complete, self.partial[stream] = (self.partial[stream] + data).split(b"\n")
        return [line.decode("utf-8", "replace") for line in complete]

    def finish(self, stream: str) -> list[str]:
        """The last line of `stream` if it did not end with a newline."""
        rest, self.partial[stream] = self.partial[stream], b""
        return [rest.decode("utf-8", "replace")] if rest else []


class Progress(PlainData):
    """Counts of the run's tasks, as shown on the progress line."""

    done: int = 0
    running: int = 0
    failed: int = 0
    retrying: int = 0

    def describe(self) -> str:
        text = f"done {self.done} · running {self.running} · failed {self.failed}"
        return text + (f" · retrying {self.retrying}" if self.retrying else "")


class RunConsole:
    """Writes prefixed task output and keeps a progress line on a terminal."""

    def __init__(self, title: str, progress: Progress, stdout: IO[str] | None = None, *, quiet: bool = False) -> None:
        """`quiet` (``--quiet``): only task output and errors, no progress line and no runtime messages."""
        self.stdout = stdout or sys.stdout
        self.title = title
        self.progress = progress
        self.quiet = quiet
        self._live: Any = None
        self._last_refresh = 0.0
        if _is_terminal(self.stdout) and not quiet:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(file=self.stdout), auto_refresh=False, transient=True)
            self._live.start()

    def task_line(self, prefix: str, stream: str, line: str) -> None:
        text = f"[{prefix}] {line}"
        if self._live is not None:
            self._live.console.print(
                text, markup=False, highlight=False, emoji=False, style="red" if stream == "err" else None
            )
            return
        target = self.stdout if stream == "out" else sys.stderr
        target.write(text + "\n")
        target.flush()

    def message(self, text: str, *, error: bool = False) -> None:
        """A line from the runtime itself (run started, task failed, ...)."""
        if self.quiet and not error:
            return
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, style="bold red" if error else "bold")
            return
        target = sys.stderr if error else self.stdout
        target.write(text + "\n")
        target.flush()

    def refresh(self, *, force: bool = False) -> None:
        """Redraw the progress line, at most every REFRESH_SECONDS unless forced."""
        now = time.monotonic()
        if self._live is None or (not force and now - self._last_refresh < REFRESH_SECONDS):
            return
        self._last_refresh = now
        self._live.update(self._render(), refresh=True)

    def close(self) -> None:
        if self._live is not None:
            self.refresh(force=True)
            self._live.stop()
            self._live = None

    def _render(self) -> Any:
        from rich.text import Text

        return Text(f"{self.title}: {self.progress.describe()}", style="cyan")


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
