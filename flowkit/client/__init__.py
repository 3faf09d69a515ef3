"""Read runs, steps, tasks and their artifacts from a datastore (``Flow("MyFlow").latest_run.data.model``)."""

from flowkit.client.artifacts import DataArtifact
from flowkit.client.flows import Flow, Metaflow
from flowkit.client.namespaces import default_namespace, get_metadata, get_namespace, namespace
from flowkit.client.objects import ArtifactData, Step, Task
from flowkit.client.run import Run

__all__ = [
    "ArtifactData",
    "DataArtifact",
    "Flow",
    "Metaflow",
    "Run",
    "Step",
    "Task",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "namespace",
]
