"""`Flow` (alias `FlowSpec`): the base class a user's workflow subclasses.

At runtime a Flow instance is one task's view of the run. Every attribute a step sets becomes an artifact; an
attribute the step did not set is loaded lazily from the artifacts its ancestors set. The bookkeeping lives in a
task scope owned by the executor (`flowkit.task`), so this class only routes attribute access and records what the
step asked for (`self.next`, `merge_artifacts`); it never touches the datastore itself.

Instances for tasks are made by the executor through a private constructor: ``MyFlow()`` with no arguments is
reserved for starting the command line, as in Metaflow (``if __name__ == "__main__": MyFlow()``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from flowkit.authoring.parameter import Parameter
from flowkit.authoring.step import CLASS_SPECS_ATTR, PENDING_SPECS_ATTR, is_step
from flowkit.errors import FlowDefinitionError

if TYPE_CHECKING:
    from flowkit.client import Run

_SCOPE_ATTR = "_flowkit_scope"
PARAMETER_VALUE_PREFIX = "_flowkit_parameter:"
"""A parameter read in a task is kept in the instance's ``__dict__`` under this prefix and its attribute name
(a `Parameter` is a data descriptor, so its value cannot live under its own name)."""


class TaskScope(Protocol):
    """What a Flow instance needs from the executor while one of its steps runs."""

    flow_name: str
    step_name: str

    def load(self, name: str) -> Any:
        """The value of an inherited artifact; raises AttributeError naming the flow, step and artifact."""

    def inherited_names(self) -> Iterable[str]: ...

    def assigned(self, name: str) -> None: ...

    def deleted(self, name: str) -> None: ...

    def record_next(self, targets: list[str], foreach: str | None, *, chosen: str | None = None) -> None:
        """The transition the step took; `chosen` is the branch a switch picked among `targets`."""

    def foreach_position(self) -> tuple[Any, int]:
        """(``self.input``, ``self.index``) of the innermost foreach frame."""

    def merge_artifacts(self, flow: Flow, inputs: Any, exclude: Iterable[str], include: Iterable[str]) -> None: ...


class Flow:
    """Base class of a workflow: subclass it, decorate methods with ``@step``, chain them with ``self.next``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Resolve the step specs of a subclass that inherits class-level decorators, so a conflict fails here.

        A class decorator resolves the specs of the class it decorates, but a subclass without one inherits its
        bases' defaults unchecked: its own steps' overrides could contradict them and fail only at run or compile
        time. A flow without class-level decorators anywhere skips this (nothing to merge, nothing imported).
        """
        super().__init_subclass__(**kwargs)
        if any(PENDING_SPECS_ATTR in vars(function) for function in vars(cls).values() if is_step(function)):
            from flowkit.specs.decorators import apply_pending_specs

            apply_pending_specs(cls)
        if any(CLASS_SPECS_ATTR in vars(base) for base in cls.__mro__[1:]):
            _check_inherited_specs(cls)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """``Flow("MovieStatsFlow")`` with a flow's name is the client's view of its runs, as Metaflow's ``Flow``.

        One name serves both uses because a ported notebook imports ``Flow`` from flowkit where it imported it from
        metaflow; every other call creates an instance as usual (``MyFlow()`` starts the command line).
        """
        if cls is Flow and args and isinstance(args[0], str):
            from flowkit.client.flows import Flow as FlowRuns

            return FlowRuns(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self) -> None:
        """Start the flow's command line (``python myflow.py run ...``); Metaflow flows end with ``MyFlow()``."""
        from flowkit.cli.main import run_flow_cli

        run_flow_cli(type(self), None)

    @classmethod
    def _flowkit_for_task(cls, scope: TaskScope) -> Flow:
        """The executor's constructor: an instance bound to one task's scope, bypassing ``__init__``."""
        instance = cls.__new__(cls)
        object.__setattr__(instance, _SCOPE_ATTR, scope)
        # An artifact named like a plain class attribute must win over it, as an assigned attribute would.
        for name in scope.inherited_names():
            declared = getattr(cls, name, None)
            if declared is not None and not isinstance(declared, Parameter):
                object.__setattr__(instance, name, scope.load(name))
        return instance

    # -- artifacts -------------------------------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_flowkit"):
            object.__setattr__(self, name, value)
            return
        scope = self._flowkit_task_scope()
        declared = getattr(type(self), name, None)
        if isinstance(declared, Parameter):
            raise declared.read_only_error()
        if name in _RESERVED_NAMES or is_step(declared):
            raise FlowDefinitionError(
                "cannot be used as an artifact name: it is part of the Flow API or a step",
                flow=scope.flow_name,
                step=scope.step_name,
                field=name,
            )
        object.__setattr__(self, name, value)
        scope.assigned(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the name is an inherited artifact not loaded yet (or nothing).
        if name.startswith("__") or name.startswith("_flowkit"):
            raise AttributeError(name)
        value = self._flowkit_task_scope().load(name)
        object.__setattr__(self, name, value)
        return value

    def __delattr__(self, name: str) -> None:
        """``del self.x`` stops ``x`` from reaching later steps."""
        scope = self._flowkit_task_scope()
        self.__dict__.pop(name, None)
        scope.deleted(name)

    def _flowkit_parameter_value(self, parameter: Parameter) -> Any:
        key = f"{PARAMETER_VALUE_PREFIX}{parameter.attribute}"
        if key not in self.__dict__:
            self.__dict__[key] = self._flowkit_task_scope().load(parameter.attribute)
        return self.__dict__[key]

    def _flowkit_task_scope(self) -> TaskScope:
        scope: TaskScope | None = self.__dict__.get(_SCOPE_ATTR)
        if scope is None:
            raise RuntimeError(
                f"{type(self).__name__} instances exist only inside a running task; use {type(self).__name__}.run()"
            )
        return scope

    # -- the step API ----------------------------------------------------------------------------------------------
    def next(self, *steps: Any, foreach: str | None = None, condition: str | None = None) -> None:
        """Name the step(s) that follow this one: one step, several (a static split), one per item of ``foreach``,
        or, with a dict of cases and ``condition``, the one case matching that artifact's value (a switch)."""
        scope = self._flowkit_task_scope()
        if condition is not None:
            cases = steps[0] if len(steps) == 1 and isinstance(steps[0], dict) else {}
            names = {value: self._flowkit_step_name(scope, target) for value, target in cases.items()}
            value = getattr(self, condition)
            if value not in names:
                raise FlowDefinitionError(
                    f"switch: self.{condition} is {value!r}, which is none of its cases {list(names)}",
                    flow=scope.flow_name,
                    step=scope.step_name,
                    field=condition,
                )
            scope.record_next(list(dict.fromkeys(names.values())), None, chosen=names[value])
            return
        scope.record_next([self._flowkit_step_name(scope, target) for target in steps], foreach)

    def _flowkit_step_name(self, scope: TaskScope, target: Any) -> str:
        """The name of ``target``, which must be a step of this flow such as ``self.end``."""
        function = getattr(target, "__func__", None)
        if getattr(target, "__self__", None) is not self or not is_step(function):
            raise FlowDefinitionError(
                f"self.next() takes steps of this flow such as self.end, got {target!r}",
                flow=scope.flow_name,
                step=scope.step_name,
                field="next",
            )
        name: str = target.__name__
        return name

    @property
    def input(self) -> Any:
        """Inside a foreach body: the item of this task (innermost foreach when nested)."""
        return self._flowkit_task_scope().foreach_position()[0]

    @property
    def index(self) -> int:
        """Inside a foreach body: the position of this task's item."""
        return int(self._flowkit_task_scope().foreach_position()[1])

    def merge_artifacts(self, inputs: Any, exclude: Iterable[str] = (), include: Iterable[str] = ()) -> None:
        """In a join: take every artifact the inputs agree on; raise on a conflict the join has not resolved.

        An artifact is resolved when the join assigned it before calling this, or lists it in ``exclude``; with
        ``include``, only those artifacts are merged.
        """
        self._flowkit_task_scope().merge_artifacts(self, inputs, exclude, include)

    # -- running and deploying -------------------------------------------------------------------------------------
    @classmethod
    def run(
        cls,
        *,
        max_workers: int | None = None,
        datastore_root: str | os.PathLike[str] | None = None,
        max_num_splits: int | None = None,
        **parameters: Any,
    ) -> Run:
        """Run the flow on this machine (e.g. from a notebook) and return its :class:`flowkit.client.Run`.

        ``max_num_splits`` is the widest foreach allowed (default 100, as in Metaflow).
        """
        from flowkit.runtime import DEFAULT_MAX_NUM_SPLITS
        from flowkit.runtime.api import run_flow

        return run_flow(
            cls,
            parameters,
            max_workers=max_workers,
            datastore_root=datastore_root,
            max_num_splits=DEFAULT_MAX_NUM_SPLITS if max_num_splits is None else max_num_splits,
        )

    @classmethod
    def main(cls, argv: list[str] | None = None) -> None:
        """The flow's command line (``run``, ``resume``, ``show``, ``check``, ``argo-create`` ...)."""
        from flowkit.cli.main import run_flow_cli

        run_flow_cli(cls, argv)

    @classmethod
    def to_argo(cls, **options: Any) -> Any:
        """The Hera objects (WorkflowTemplate, and CronWorkflow with ``@schedule``) this flow compiles to."""
        from flowkit.deploy.api import to_argo

        return to_argo(cls, **options)

    @classmethod
    def argo_create(cls, **options: Any) -> Any:
        """Publish the code package and create or update the flow's WorkflowTemplate on the cluster."""
        from flowkit.deploy.api import argo_create

        return argo_create(cls, **options)

    @classmethod
    def argo_trigger(cls, **parameters: Any) -> Any:
        """Submit a run of the deployed template with these parameter values; returns the workflow's name."""
        from flowkit.deploy.api import argo_trigger

        return argo_trigger(cls, parameters)


def _check_inherited_specs(flow_cls: type) -> None:
    """Resolve `flow_cls`'s specs now; a conflict is raised unless a class decorator of its own still has to run.

    Class decorators run after ``__init_subclass__``, and one of them may override the inherited field that
    conflicts (``@conda(file=None, python=...)`` over a base's ``@conda(file=...)``); the decorator resolves the
    specs again when applied and raises then if the conflict remains. Only this error path reads the source.
    """
    from flowkit.specs.resolve import resolve_step_specs

    try:
        resolve_step_specs(flow_cls)
    except FlowDefinitionError:
        if not _class_statement_is_decorated(flow_cls):
            raise


def _class_statement_is_decorated(flow_cls: type) -> bool:
    """Whether the ``class`` statement of `flow_cls` has decorators (False when its source cannot be read)."""
    import inspect

    try:
        lines, _ = inspect.getsourcelines(flow_cls)
    except (OSError, TypeError):
        return False
    return bool(lines) and lines[0].lstrip().startswith("@")


FlowSpec = Flow
"""Metaflow's name for the base class, so a ported flow only changes its import line."""

_RESERVED_NAMES = frozenset({"next", "merge_artifacts", "input", "index"})
"""The step API, which an artifact must not hide. flowkit's other methods (``run``, ``main``, ``to_argo`` ...) are
classmethods a task never calls on its instance, so, as in Metaflow, a step may use their names for artifacts: the
artifact shadows the method on the instance only."""

FLOW_API_NAMES = frozenset(name for name in vars(Flow) if not name.startswith("__")) | {"input", "index"}
"""Every attribute and method of the Flow base class. A step is a class attribute, so unlike an artifact it would
replace the method for the class as well (``MyFlow.run()``, ``MyFlow.main()``): no step may take one of these names."""
