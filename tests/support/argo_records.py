"""What an emulated Argo run leaves behind: one record per node, so tests can assert on what ran and show logs."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.argo_pod import PodResult

SUCCEEDED = "Succeeded"
FAILED = "Failed"
SKIPPED = "Skipped"  # a fan-out over an empty list: it succeeds without running anything
OMITTED = "Omitted"  # never started because a dependency failed or the DAG stopped scheduling
_MAX_ARG_CHARS = 200  # logs show long arguments (inline scripts) shortened


@dataclass
class NodeRecord:
    """One node of the run: a container task (with every attempt), a DAG, or a fan-out group.

    ``name`` follows Argo's node names: ``<workflow>.<task>.<task>(<index>:<item>)``; ``kind`` is ``container``,
    ``dag``, ``fan-out`` or ``omitted``.
    """

    name: str
    template: str
    kind: str
    phase: str = FAILED
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    attempts: list[PodResult] = field(default_factory=list)
    message: str = ""

    @property
    def exit_code(self) -> int | None:
        """Exit code of the last attempt (None for a node that ran no container)."""
        return self.attempts[-1].exit_code if self.attempts else None

    @property
    def stdout(self) -> str:
        """Standard output of the last attempt."""
        return self.attempts[-1].stdout if self.attempts else ""

    @property
    def stderr(self) -> str:
        """Standard error of the last attempt."""
        return self.attempts[-1].stderr if self.attempts else ""


@dataclass
class EmulatedRun:
    """The result of :func:`tests.support.argo_emulator.run_workflow_template`.

    ``phase`` is ``Succeeded`` or ``Failed`` (the exit handler's failure fails the run, as in Argo);
    ``nodes`` lists every node in completion order; ``parameters`` holds the workflow parameters used.
    """

    workflow_name: str
    phase: str
    parameters: dict[str, str]
    nodes: list[NodeRecord]
    message: str = ""

    def containers(self, template: str | None = None) -> list[NodeRecord]:
        """Container nodes, in completion order, optionally only those of one template."""
        return [node for node in self.nodes if node.kind == "container" and template in (None, node.template)]

    def node(self, name: str) -> NodeRecord:
        """The node whose name is ``name`` or ends with ``.name`` (task names are unique within a DAG)."""
        matches = [node for node in self.nodes if node.name == name or node.name.endswith(f".{name}")]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} nodes named {name!r}; nodes: {[node.name for node in self.nodes]}")
        return matches[0]

    def logs(self) -> str:
        """A readable report of every container attempt (command, exit code, stdout, stderr), for failures."""
        lines = [f"workflow {self.workflow_name}: {self.phase} {self.message}".rstrip()]
        for node in self.nodes:
            lines.append(f"== {node.name} [{node.template}] {node.phase} {node.message}".rstrip())
            for retry, attempt in enumerate(node.attempts):
                argv = [arg if len(arg) <= _MAX_ARG_CHARS else arg[:_MAX_ARG_CHARS] + "..." for arg in attempt.argv]
                lines.append(f"-- attempt {retry}: exit {attempt.exit_code} {attempt.error}: {argv!r}")
                lines.extend(f"   out| {line}" for line in attempt.stdout.splitlines())
                lines.extend(f"   err| {line}" for line in attempt.stderr.splitlines())
        return "\n".join(lines)

    def assert_succeeded(self) -> None:
        """Raise AssertionError carrying :meth:`logs` unless the run succeeded."""
        if self.phase != SUCCEEDED:
            raise AssertionError(f"emulated workflow did not succeed\n{self.logs()}")
