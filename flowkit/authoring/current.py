"""`current`: what the running task is (flow, run, step, task, retry, foreach position, workflow status).

One module-level object, set by the task executor before a step runs and cleared after, so user code anywhere in
the task (not only the step method) can ask where it is running, as Metaflow's ``current`` allows.

The object pickles as a reference to this module's ``current``: a flow pickled by value (defined in ``__main__`` or a
notebook) names the pod's own singleton, the one its executor fills, instead of carrying a frozen copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, SupportsIndex

if TYPE_CHECKING:
    from flowkit.authoring.run_context import RunContext
    from flowkit.cards.collector import CardCollector, NoCards


class Current:
    """The running task's identity; every field is None outside a task.

    The fields are class attributes, None until the executor binds them on the one instance and after it clears them
    again (a plain class: a pod imports this before its step runs, and ``dataclasses`` would cost its start some
    10 ms).
    """

    flow_name: str | None = None
    run_id: str | None = None
    step_name: str | None = None
    task_id: str | None = None
    retry_count: int | None = None
    index_path: tuple[int, ...] | None = None
    workflow_status: str | None = None
    """Only in an exit-handler step: the workflow's final status (``Succeeded``, ``Failed``, ``Error``)."""
    username: str | None = None
    """Who started the run (or deployed its template)."""
    tags: frozenset[str] | None = None
    """The run's tags when it started: ``run --tag`` values and the system tags (``user:NAME``, ...)."""
    namespace: str | None = None
    """The default namespace of the run's user, ``user:NAME``."""
    project_name: str | None = None
    """The following are set in a `@project` flow only (see `flowkit.authoring.run_context.ProjectIdentity`)."""
    branch_name: str | None = None
    is_production: bool | None = None
    is_user_branch: bool | None = None
    project_flow_name: str | None = None
    _cards: CardCollector | None = None

    @property
    def card(self) -> CardCollector | NoCards:
        """The step's cards (``current.card.append(Markdown(...))``); a step without ``@card`` gets a no-op."""
        if self._cards is not None:
            return self._cards
        from flowkit.cards.collector import NoCards

        global _no_cards
        if _no_cards is None:
            _no_cards = NoCards()
        return _no_cards

    @property
    def pathspec(self) -> str | None:
        """``Flow/run_id/step/task_id``, the form the client API accepts."""
        if self.task_id is None:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def is_running_flow(self) -> bool:
        return self.task_id is not None

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        """The singleton as a global reference (pickle and copy then resolve it by name); other instances by value."""
        if self is current:
            return "current"
        return super().__reduce_ex__(protocol)

    def _bind(
        self,
        *,
        flow_name: str,
        run_id: str,
        step_name: str,
        task_id: str,
        retry_count: int,
        index_path: tuple[int, ...],
        workflow_status: str | None,
        cards: CardCollector | None = None,
    ) -> None:
        self.flow_name, self.run_id, self.step_name, self.task_id = flow_name, run_id, step_name, task_id
        self.retry_count, self.index_path, self.workflow_status = retry_count, index_path, workflow_status
        self._cards = cards

    def _bind_context(self, context: RunContext, flow_cls: type) -> None:
        """The run's user, tags and `@project` identity, as the task learned them from its environment."""
        self.username, self.namespace = context.user, f"user:{context.user}"
        self.tags = frozenset([*context.tags, *context.system_tags(flow_cls)])
        project = context.project(flow_cls)
        if project is not None:
            self.project_name, self.branch_name = project.project_name, project.branch_name
            self.is_production, self.is_user_branch = project.is_production, project.is_user_branch
            self.project_flow_name = project.project_flow_name

    def _clear(self) -> None:
        vars(self).clear()  # every field reads its class default, None, again


_no_cards: NoCards | None = None
"""Shared by every step without ``@card`` (created on first use), so it warns once per process."""

current = Current()
