"""The executor's side of a running step: which artifacts it inherits, which it sets, where it goes next.

A `Flow` instance routes attribute access here. Inherited artifacts are loaded only when the step reads them, and
only what the step touched is serialized when it returns: the artifacts it assigned, and the inherited ones it read
and changed in place (``self.items.append(4)``), which later steps must see as Metaflow users expect. Passing a large
artifact along a chain of steps that never read it therefore costs nothing per step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flowkit.authoring.flow import PARAMETER_VALUE_PREFIX
from flowkit.datastore import ArtifactRef, DataStore
from flowkit.errors import FlowDefinitionError, FlowkitError, StorageError
from flowkit.identity import TaskRef
from flowkit.task.inputs import JoinInputs, TaskInputs, agreed_artifacts

if TYPE_CHECKING:
    from flowkit.authoring.flow import Flow
    from flowkit.graph import StepNode

_IMMUTABLE_TYPES = frozenset({bytes, str, int, float, complex, bool, type(None)})
"""Values that cannot change in place, so reading them needs no digest (a large ``bytes`` artifact stays cheap)."""


class ArtifactError(FlowkitError):
    """An artifact cannot be stored, loaded or merged; names the flow, the step and the artifact."""

    def __init__(self, message: str, *, flow: str, step: str, artifact: str) -> None:
        self.flow, self.step, self.artifact = flow, step, artifact
        super().__init__(f"{flow}.{step} artifact {artifact!r}: {message}")


class StepScope:
    """One task's artifacts and recorded transition (implements `flowkit.authoring.flow.TaskScope`)."""

    def __init__(self, store: DataStore, coords: TaskRef, node: StepNode, inputs: TaskInputs) -> None:
        self.store = store
        self.coords = coords
        self.node = node
        self.flow_name = coords.flow
        self.step_name = coords.step
        self.inputs = inputs
        self.artifacts: dict[str, ArtifactRef] = dict(inputs.artifacts)
        """What later steps inherit: starts as the inherited set; :meth:`persist` adds assigned and changed ones."""
        self.assigned_names: dict[str, None] = {}
        self.loaded_digests: dict[str, bytes | None] = {}
        """Inherited artifacts the step read, with the digest of their pickle at load time (None: not picklable)."""
        self.next_call: tuple[list[str], str | None] | None = None
        self.chosen_step: str | None = None
        """For a switch: the branch its condition picked."""

    # -- TaskScope protocol ----------------------------------------------------------------------------------------
    def load(self, name: str) -> Any:
        ref = self.artifacts.get(name)
        if ref is None:
            reason = (
                "a join starts with the parameters only: take artifacts from inputs, or merge_artifacts(inputs)"
                if self.node.is_join
                else "no earlier step on this path set it"
            )
            raise AttributeError(f"{self.flow_name}.{self.step_name} has no artifact or attribute {name!r} ({reason})")
        value = self.store.load_artifact(ref, artifact=name, task=self.coords)
        if type(value) not in _IMMUTABLE_TYPES:
            self.loaded_digests[name] = _pickle_digest(value)
        return value

    def inherited_names(self) -> Iterable[str]:
        return list(self.artifacts)

    def assigned(self, name: str) -> None:
        self.assigned_names[name] = None

    def deleted(self, name: str) -> None:
        self.assigned_names.pop(name, None)
        self.artifacts.pop(name, None)

    def record_next(self, targets: list[str], foreach: str | None, *, chosen: str | None = None) -> None:
        if self.next_call is not None:
            raise self._definition_error("self.next() was called more than once in one step")
        self.next_call = (targets, foreach)
        self.chosen_step = chosen

    def foreach_position(self) -> tuple[Any, int]:
        frame = self.inputs.foreach
        if frame is None:
            # Not an AttributeError: from a property that would fall through to Flow.__getattr__ and hide this text.
            raise self._definition_error("self.input and self.index exist only in the steps of a foreach")
        split_task = self.coords.enclosing_foreach_task(frame.step)
        ref = self.store.successful_record(split_task).artifacts[frame.var]
        items = self.store.load_artifact(ref, artifact=frame.var, task=split_task)
        return items[frame.index], frame.index

    def merge_artifacts(self, flow: Flow, inputs: Any, exclude: Iterable[str], include: Iterable[str]) -> None:
        if self.inputs.join is None or inputs is not self.inputs.join:
            raise self._definition_error("merge_artifacts(inputs) is only for a join step, with its own inputs")
        excluded, included = set(exclude), set(include)
        if excluded and included:
            raise self._definition_error("merge_artifacts takes exclude= or include=, not both")
        records = inputs._flowkit_records if isinstance(inputs, JoinInputs) else []
        offered = {name for record in records for name in record.artifacts}
        missing = included - offered
        if missing:
            raise ArtifactError("is not set by any input of the join", **self._where(sorted(missing)[0]))
        wanted = (included or offered) - excluded - set(self.assigned_names)
        agreed = agreed_artifacts(records)
        conflicts = sorted(name for name in wanted if name not in agreed)
        if conflicts:
            raise ArtifactError(
                f"the join's inputs disagree on {', '.join(map(repr, conflicts))}; assign them in the join before "
                "merge_artifacts, or pass exclude=[...]",
                **self._where(conflicts[0]),
            )
        for name in wanted:
            self.artifacts[name] = agreed[name]
            flow.__dict__.pop(name, None)  # a stale value loaded earlier must not shadow the merged one

    # -- used by the executor --------------------------------------------------------------------------------------
    def check_transition(self) -> None:
        """The step must have taken the transition the graph was built from."""
        node = self.node
        if node.transition == "end" or node.is_exit_handler:
            if self.next_call is not None:
                raise self._definition_error("the end step (or exit handler) must not call self.next()")
            return
        if self.next_call is None:
            raise self._definition_error(f"the step must end with self.next(...) to {', '.join(node.out)}")
        targets, foreach = self.next_call
        expected_foreach = node.foreach_var if node.transition == "foreach" else None
        if (self.chosen_step is not None) != (node.transition == "switch"):
            raise self._definition_error(
                f"called self.next({'with' if self.chosen_step else 'without'} condition=, but the graph says the "
                f"step is {'not ' if node.transition != 'switch' else ''}a switch"
            )
        if targets != node.out or foreach != expected_foreach:
            called = ", ".join(f"self.{target}" for target in targets)
            suffix = f", foreach={foreach!r}" if foreach else ""
            raise self._definition_error(f"called self.next({called}{suffix}) but the graph says {node.out}")

    def persist(self, flow: Flow) -> None:
        """Store every artifact the step assigned or changed in place; an unpicklable one fails the step, naming it."""
        for name in self.assigned_names:
            self.artifacts[name] = self._put(name, flow.__dict__[name])
        for name in self._changed_in_place(flow):
            self.artifacts[name] = self._put(name, flow.__dict__[name])

    def values_in_memory(self, flow: Flow) -> dict[str, Any]:
        """The values of the artifacts passed on that this process holds (set by the step, or read by it), by name:
        what a report of the task can show without reading a blob back."""
        held = flow.__dict__
        values = {}
        for name in self.artifacts:
            if name in held:
                values[name] = held[name]
            elif f"{PARAMETER_VALUE_PREFIX}{name}" in held:
                values[name] = held[f"{PARAMETER_VALUE_PREFIX}{name}"]
        return values

    def _changed_in_place(self, flow: Flow) -> list[str]:
        """Inherited artifacts the step read and mutated without reassigning them.

        A value counts as changed when its pickle differs from the one it had when loaded, both taken in this
        process: comparing with the stored blob instead would flag an unchanged set whose iteration order differs
        from the writer's (string hashing is randomized per process), and a join would then see its inputs disagree.
        Only read artifacts are pickled again, so inherited artifacts the step never touched cost nothing.
        """
        changed = []
        for name, digest in self.loaded_digests.items():
            if digest is None or name in self.assigned_names or name not in self.artifacts:
                continue  # not re-picklable when loaded, reassigned (stored above), or deleted
            if name in flow.__dict__ and _pickle_digest(flow.__dict__[name]) != digest:
                changed.append(name)
        return changed

    def _put(self, name: str, value: Any) -> ArtifactRef:
        try:
            return self.store.put_artifact(value)
        except StorageError:
            raise  # the disk, not the value: its own one-line message says which operation, path and cause
        except Exception as error:
            reason = f"cannot be pickled: {type(error).__name__}: {error}"
            raise ArtifactError(reason, **self._where(name)) from error

    def foreach_items(self, flow: Flow) -> Any:
        """The value a foreach step iterates: a sequence, so each body task can take its item by position."""
        var = self.node.foreach_var
        assert var is not None
        items = getattr(flow, var)
        if not (hasattr(items, "__len__") and hasattr(items, "__getitem__")) or isinstance(items, dict):
            raise ArtifactError(f"foreach needs a list-like sequence, got {type(items).__name__}", **self._where(var))
        return items

    def _where(self, artifact: str) -> dict[str, str]:
        return {"flow": self.flow_name, "step": self.step_name, "artifact": artifact}

    def _definition_error(self, message: str) -> FlowDefinitionError:
        return FlowDefinitionError(message, flow=self.flow_name, step=self.step_name, lineno=self.node.lineno)


class _Digester:
    """A write-only file object that keeps only the sha256 of what is written to it (pickling without storing)."""

    def __init__(self) -> None:
        import hashlib  # like pickle below: loaded only by a step that reads inherited artifacts, not at task start

        self.sha = hashlib.sha256()

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha.update(view)
        return view.nbytes


def _pickle_digest(value: Any) -> bytes | None:
    """The sha256 of ``value``'s pickle, or None when it cannot be pickled (then it is never stored back)."""
    import pickle

    import cloudpickle

    digester = _Digester()
    try:
        cloudpickle.dump(value, digester, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return None
    return digester.sha.digest()
