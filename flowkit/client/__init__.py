"""Read runs, steps, tasks and their artifacts from a datastore (``Run.latest("MyFlow").data.model``)."""

from flowkit.client.objects import ArtifactData, Run, Step, Task

__all__ = ["ArtifactData", "Run", "Step", "Task"]
