"""The errors flowkit raises on purpose.

Every bad-input error names where the problem is (flow, step, decorator, field, source line) so that a user can fix
it without reading flowkit's source; the structured attributes let tests and tools check them precisely.
"""

from __future__ import annotations


class FlowkitError(Exception):
    """Base class of every error flowkit raises deliberately."""

    exit_code = 1
    """The exit status of a command this error stops (after printing it as one line)."""


class FlowDefinitionError(FlowkitError):
    """A flow class, one of its steps, or one of its decorators is invalid."""

    def __init__(
        self,
        message: str,
        *,
        flow: str,
        step: str | None = None,
        decorator: str | None = None,
        field: str | None = None,
        lineno: int | None = None,
    ) -> None:
        self.message = message
        self.flow = flow
        self.step = step
        self.decorator = decorator
        self.field = field
        self.lineno = lineno
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.flow if self.step is None else f"{self.flow}.{self.step}"
        if self.lineno is not None:
            where += f" (line {self.lineno})"
        if self.decorator is not None:
            where += f" @{self.decorator}"
            if self.field is not None:
                where += f".{self.field}"
        elif self.field is not None:
            where += f" {self.field}"
        return f"{where}: {self.message}"


class ParameterError(FlowkitError):
    """A flow parameter received a value it cannot accept."""

    def __init__(self, message: str, *, flow: str, parameter: str) -> None:
        self.flow = flow
        self.parameter = parameter
        super().__init__(f"{flow} parameter {parameter!r}: {message}")


class DataStoreError(FlowkitError):
    """The datastore is missing, corrupt, or does not hold what was asked for."""


class PathspecError(FlowkitError, ValueError):
    """A pathspec (``Flow/run_id/step/task_id``) that cannot name anything, such as Metaflow's ``start/1`` where
    flowkit's task ids read ``0.1``. A FlowkitError so a command reports it as one line; a ValueError because it is
    one, for code that catches that."""


EXIT_STORAGE = 74
"""Exit status of every flowkit command and task process stopped by a `StorageError` (sysexits' EX_IOERR)."""
EXIT_DATASTORE_UNWRITABLE = 77
"""Exit status of a task process (or a pod's bootstrap) that may not write the datastore at all: a setup problem
that no retry fixes, so Argo's retryStrategy excludes it (sysexits' EX_NOPERM). The bootstrap, which cannot import
flowkit, states the same number (a test holds them equal)."""


class StorageError(DataStoreError):
    """The storage under the datastore refused an operation: full (ENOSPC, EDQUOT), read-only (EROFS) or not ours
    (EACCES, EPERM). One line names the operation, the path and the cause; nothing committed before is lost."""

    exit_code = EXIT_STORAGE

    def __init__(self, operation: str, path: object, cause: OSError) -> None:
        import errno

        self.operation = operation
        self.path = path
        self.errno = cause.errno
        # A datastore the process may not write (permissions, read-only mount) stays so until someone fixes the
        # setup, so trying again is useless; a full disk or quota (ENOSPC, EDQUOT) may free up as other tasks'
        # temporary files go or gc runs, so a later attempt can succeed. The pod bootstrap, which cannot import
        # this module, keeps the same errnos as UNWRITABLE_ERRNOS (a test holds them equal).
        self.permanent = cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        code = errno.errorcode.get(cause.errno or 0, str(cause.errno))
        super().__init__(f"cannot {operation} {path}: {cause.strerror or cause} ({code})")


class TaskFailedError(FlowkitError):
    """A task of a run failed; raised by APIs that promise a successful result."""


class ExceptionWrapper(Exception):
    """A step's exception reduced to text, as ``@catch(var=...)`` stores it and ``Task.exception`` returns it.

    The raised exception itself may not pickle, or may need the step's modules to unpickle; the wrapper needs
    neither, so any reader of the datastore can load it. Its fields are Metaflow's: ``type`` (the exception's
    module-qualified class name), ``exception`` (its message) and ``stacktrace`` (the formatted traceback, or None
    when there is none, e.g. for a task process that died).
    """

    def __init__(self, type: str, exception: str, stacktrace: str | None = None) -> None:
        super().__init__(type, exception, stacktrace)
        self.type = type
        self.exception = exception
        self.stacktrace = stacktrace

    @classmethod
    def of(cls, error: BaseException) -> ExceptionWrapper:
        """Wrap `error`, with the traceback it was raised with."""
        import traceback

        kind = type(error)
        stacktrace = "".join(traceback.format_exception(kind, error, error.__traceback__))
        return cls(f"{kind.__module__}.{kind.__qualname__}", str(error), stacktrace if error.__traceback__ else None)

    def __str__(self) -> str:
        return self.stacktrace or f"[no stacktrace]\n{self.type}: {self.exception}"

    def __repr__(self) -> str:
        return f"ExceptionWrapper({self.type}: {self.exception})"
