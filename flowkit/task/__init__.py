"""The task executor: runs one task of a flow, the same way on this machine and in an Argo pod.

Import from the submodules (`flowkit.task.executor`, `flowkit.task.cli`): this package stays empty so that
``python -m flowkit.task`` starts without importing anything the task does not need.
"""
