"""The local runtime: schedules a flow's tasks as processes on this machine.

The scheduler is a single-threaded loop that forks each task from the already-imported process (fast, and it
works for classes defined in `__main__` or a notebook), multiplexes the tasks' output pipes, and reaps them. The
task itself always runs through `flowkit.task.executor`, the same code an Argo pod runs.
"""

DEFAULT_MAX_NUM_SPLITS = 100
"""Metaflow's default for the widest foreach a local run starts, so a bug does not fork thousands of tasks. Here,
not in `flowkit.runtime.api`, so the command line reads it without importing the runtime."""
