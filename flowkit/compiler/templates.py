"""Hera container templates: one per distinct `PodPlan`, carrying the step's whole resolved pod spec.

Every container runs the bootstrap (mounted from its ConfigMap) on the code package (from the shared PVC) with the
task executor's command line,
so a pod executes exactly what the local runtime executes. Per-task values (step name, index path, run id,
attempt) are Argo placeholders, which is what lets steps with equal specs share a template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowkit import settings
from flowkit.compiler.names import dns_label
from flowkit.compiler.pods import PodPlan
from flowkit.invocation import TaskInvocation
from flowkit.packaging.bootstrap import interpreter_command
from flowkit.packaging.bootstrap_script import EXIT_BOOTSTRAP_FAILED, EXIT_DATASTORE_UNWRITABLE
from flowkit.pod_files import FILE_MODE
from flowkit.specs.argo import CONTAINER_SECURITY_CONTEXT, PackageCache
from flowkit.specs.quantity import add_byte_quantities

if TYPE_CHECKING:
    from hera.workflows import Container, RetryStrategy
    from hera.workflows import models as m
    from hera.workflows.volume import _BaseVolume

    from flowkit.pod_files import PodFiles

STEP_INPUT = "step"
STEP_LABEL_INPUT = "step-label"
INDEX_PATH_INPUT = "index-path"
SPLITS_OUTPUT = "splits"
SPLITS_PATH = "/tmp/flowkit-splits.json"
BRANCH_OUTPUT = "branch"
BRANCH_PATH = "/tmp/flowkit-branch.txt"
SHM_VOLUME = "dshm"
DATASTORE_VOLUME = "flowkit-datastore"
PACKAGE_CACHE_VOLUME = "flowkit-package-cache"
PACKAGE_CACHE_MOUNT = "/flowkit-package-cache"
"""Where a 'node' (hostPath) or 'pod' (emptyDir) package cache is mounted in the container."""
EXTRACTED_PACKAGES_DIR = "packages/extracted"
"""Below the datastore mount: the 'volume' package cache, shared by every pod of every run on the claim."""
LABEL_PREFIX = "flowkit.io"
HOME_VOLUME = "flowkit-home"
HOME_DIR = "/home/flowkit"
"""The task's HOME and working directory: an emptyDir, so a non-root uid on a stock image (HOME=/, cwd /, neither
writable) can still write ``~/.cache`` (Hugging Face, torch hub) and relative paths."""
TMP_VOLUME = "flowkit-tmp"
TMP_DIR = "/tmp"
"""TMPDIR: an emptyDir, writable whatever the image's root filesystem allows."""

STARTUP_ALLOWANCE_SECONDS = 3600
"""How much longer than its ``@timeout`` a pod may run before Argo kills it (``activeDeadlineSeconds``).

The step's timeout is enforced inside the pod, by the task supervisor, from the moment the step's code starts, so
that an overrunning step still ends with a commit record (a failed one, or with ``@catch`` the caught one that lets
the flow go on) and gets its whole ``@timeout``. Argo's deadline counts from the pod's start instead: pulling a
multi-GB GPU image, waiting for the volume and unpacking the code package all come out of it. It therefore stays
only as a generous backstop for a pod that hangs past its own timeout (stuck in native code, or in the bootstrap):
an hour covers a slow image pull and a cold package extraction on a busy node, while still bounding what a hung pod
costs.
"""

NOT_RETRIED_EXIT_CODES = (EXIT_BOOTSTRAP_FAILED, EXIT_DATASTORE_UNWRITABLE)
"""Exit codes of a pod that a retry cannot fix: the bootstrap's own failures (digest mismatch, no usable Python, a
pickle's version refused) and an unwritable datastore. A failure of the step's code exits 1 and is retried."""

BootstrapCommand = Callable[[Sequence[str], list[str]], list[str]]
"""Turns (the command that starts the image's Python, the executor's argv) into the container command that
bootstraps the code package and runs it."""


@dataclass(frozen=True)
class PodContext:
    """What every pod of one compiled flow shares."""

    datastore_claim: str
    datastore_mount: str
    parameter_names: Sequence[str]
    bootstrap: BootstrapCommand
    bootstrap_files: PodFiles
    """The ConfigMap holding the bootstrap's scripts, mounted read-only in every container."""
    package_cache: PackageCache = "volume"
    package_cache_host_path: str = ""
    run_environment: Mapping[str, str] = field(default_factory=dict)
    """Variables of the deployment's `RunContext` (user, tags, `@project` branch), under each step's own."""
    default_cpu: str = str(settings.CPU.default)
    default_memory: str = str(settings.MEMORY.default)
    """Requests of a step that asks for none (Metaflow's 1 CPU and 4 GiB unless the cluster profile says): a pod
    without requests is BestEffort, evicted first, and refused outright in a namespace with a ResourceQuota."""


def package_cache_dir(package_cache: PackageCache, datastore_mount: str) -> str:
    """The bootstrap's ``--cache-dir`` in the container for each `@argo(package_cache=...)` choice.

    'volume' puts the extraction on the datastore claim, so one pod extracts a package and every later pod, on any
    node, finds it ready. That adds no trust the pods did not already give the claim: tasks unpickle their
    parents' artifacts from it, so whoever can write to it can already run code in the pods; the archive and the
    pickled flow are still verified against the hashes in the workflow spec before a first extraction.
    """
    if package_cache == "volume":
        return f"{datastore_mount}/{EXTRACTED_PACKAGES_DIR}"
    return PACKAGE_CACHE_MOUNT


def input_value(name: str) -> str:
    """The Argo placeholder of a template input."""
    return "{{inputs.parameters." + name + "}}"


def task_argv(plan: PodPlan, context: PodContext) -> list[str]:
    """The `python -m flowkit.task` arguments of a task of this plan, with per-task values as placeholders."""
    return TaskInvocation(
        datastore_root=context.datastore_mount,
        run_id="{{workflow.name}}",
        step=input_value(STEP_INPUT),
        index_path=input_value(INDEX_PATH_INPUT),
        # {{retries}} only exists in templates that have a retryStrategy.
        attempt="{{retries}}" if plan.retry.times > 0 else 0,
        params={name: f"{{{{workflow.parameters.{name}}}}}" for name in context.parameter_names}
        if plan.role.passes_parameters
        else {},
        split_output=SPLITS_PATH if plan.role.writes_splits else None,
        branch_output=BRANCH_PATH if plan.role.writes_branch else None,
        workflow_status="{{workflow.status}}" if plan.role.exit_handler else None,
        tee_logs=True,
    ).to_argv()


def _resources(plan: PodPlan, context: PodContext) -> m.ResourceRequirements:
    """Requests equal to limits, so the pod is Guaranteed: placed where it truly fits, evicted last.

    A memory-backed /dev/shm is charged to the container's memory, so its size is added to the memory the step asked
    for: the step's code keeps all of its memory however much of /dev/shm it fills.
    """
    from hera.workflows import models as m

    spec = plan.kubernetes
    memory = spec.memory or context.default_memory
    if spec.shared_memory is not None:
        memory = add_byte_quantities(memory, spec.shared_memory)
    amounts: dict[str, str] = {"cpu": spec.cpu or context.default_cpu, "memory": memory}
    if spec.disk is not None:
        amounts["ephemeral-storage"] = str(spec.disk)
    if spec.gpu:
        amounts[spec.gpu_resource_name] = str(spec.gpu)
    quantities = {name: m.Quantity(value) for name, value in amounts.items()}
    return m.ResourceRequirements(requests=quantities, limits=dict(quantities))


def _config_map_volume(files: PodFiles) -> _BaseVolume:
    """``files`` mounted read-only; Hera names the volume after its ConfigMap."""
    from hera.workflows import ConfigMapVolume

    return ConfigMapVolume(
        name=files.name,
        mount_path=files.mount_path,
        read_only=True,
        default_mode=FILE_MODE,
        optional=files.optional or None,
    )


def shared_volumes(plan: PodPlan, context: PodContext) -> list[_BaseVolume]:
    """The plan's volumes whose definition is the same in every pod that mounts one (a volume's name says what it
    holds): declared once in the workflow's ``spec.volumes`` (`workflow_volumes`), each container only mounts them.

    Argo adds to a pod exactly the workflow volumes its container mounts, and an emptyDir is still one per pod, so this
    changes no pod; it only keeps some 400 bytes of volume definitions per distinct pod spec out of the template.
    """
    from hera.workflows import EmptyDirVolume, ExistingVolume, HostPathVolume

    volumes: list[_BaseVolume] = [
        _config_map_volume(context.bootstrap_files),
        ExistingVolume(name=DATASTORE_VOLUME, claim_name=context.datastore_claim, mount_path=context.datastore_mount),
    ]
    if plan.environment.files is not None:
        volumes.append(_config_map_volume(plan.environment.files))
    if context.package_cache == "node":
        volumes.append(
            HostPathVolume(
                name=PACKAGE_CACHE_VOLUME,
                path=context.package_cache_host_path,
                type="DirectoryOrCreate",
                mount_path=PACKAGE_CACHE_MOUNT,
            )
        )
    elif context.package_cache == "pod":
        volumes.append(EmptyDirVolume(name=PACKAGE_CACHE_VOLUME, mount_path=PACKAGE_CACHE_MOUNT))
    for claim, path in sorted(plan.kubernetes.pvc.items()):
        volumes.append(ExistingVolume(name=f"pvc-{dns_label(claim, 59)}", claim_name=claim, mount_path=path))
    volumes += [
        EmptyDirVolume(name=HOME_VOLUME, mount_path=HOME_DIR),
        EmptyDirVolume(name=TMP_VOLUME, mount_path=TMP_DIR),
    ]
    return volumes


def workflow_volumes(plans: Iterable[PodPlan], context: PodContext) -> list[_BaseVolume]:
    """Every plan's `shared_volumes`, each name once, in the order the plans first mount them."""
    by_name: dict[str, _BaseVolume] = {}
    for plan in plans:
        for volume in shared_volumes(plan, context):
            by_name.setdefault(str(volume.name), volume)
    return list(by_name.values())


def _own_volumes(plan: PodPlan) -> list[_BaseVolume] | None:
    """The volumes defined in the plan's template itself: a /dev/shm sized for this step."""
    from hera.workflows import EmptyDirVolume
    from hera.workflows import models as m

    if plan.kubernetes.shared_memory is None:
        return None
    size = m.Quantity(str(plan.kubernetes.shared_memory))
    return [EmptyDirVolume(name=SHM_VOLUME, medium="Memory", size_limit=size, mount_path="/dev/shm")]


def _mounts(plan: PodPlan, context: PodContext) -> list[m.VolumeMount]:
    """Where the container mounts its `shared_volumes`."""
    from hera.workflows import models as m

    mounts = []
    for volume in shared_volumes(plan, context):
        assert volume.mount_path is not None, "shared_volumes builds every volume with its mount path"
        mounts.append(m.VolumeMount(name=str(volume.name), mount_path=volume.mount_path, read_only=volume.read_only))
    return mounts


def _retry_strategy(plan: PodPlan) -> RetryStrategy | None:
    from hera.workflows import RetryStrategy
    from hera.workflows import models as m

    retry = plan.retry
    if retry.times <= 0:
        return None
    backoff = None
    if retry.minutes_between_retries > 0:
        factor = retry.backoff_factor
        backoff = m.Backoff(
            duration=f"{round(retry.minutes_between_retries * 60)}s",
            # An integer: Argo parses the int-or-string factor as one (RetrySpec refuses fractions).
            factor=None if factor is None else m.IntOrString(factor),
        )
    # "Always" also retries pods lost to node failures or evictions, not only a non-zero exit; the expression keeps
    # setup problems (explained once: an unwritable datastore, a bootstrap that cannot run the package) from being
    # retried as if they were the step's failure.
    return RetryStrategy(
        limit=retry.times,
        retry_policy="Always",
        backoff=backoff,
        expression=" && ".join(f'lastRetry.exitCode != "{code}"' for code in NOT_RETRIED_EXIT_CODES),
    )


def _metadata(plan: PodPlan) -> tuple[dict[str, str], dict[str, str]]:
    """Labels select pods (`kubectl get pods -l flowkit.io/step=train`); annotations keep the unabridged values.

    The flow-wide labels (flow, code package, flowkit version) are the workflow's podMetadata; these are the
    step's own (and its environment's), with the step name filled in per task by Argo's input substitution.
    """
    labels = {**plan.labels, f"{LABEL_PREFIX}/step": input_value(STEP_LABEL_INPUT)}
    annotations = {**plan.annotations, f"{LABEL_PREFIX}/step": input_value(STEP_INPUT)}
    return labels, annotations


def _interpreter(plan: PodPlan) -> list[str]:
    """How the container starts Python: the step's ``@kubernetes(python=...)``, the environment's own interpreter
    behind its command wrapper, or the image's python3/python as found at start (naming image and step if none)."""
    python = plan.kubernetes.python
    if python is None and plan.environment.command_wrapper:
        python = "python"  # the wrapper replaces it with the environment's interpreter
    return interpreter_command(python, image=str(plan.image), step=input_value(STEP_INPUT))


def _environment(plan: PodPlan, context: PodContext) -> dict[str, str]:
    """The run's and the step's variables over the pod's writable HOME and TMPDIR (a step may still point them
    elsewhere)."""
    return {"HOME": HOME_DIR, "TMPDIR": TMP_DIR, **context.run_environment, **plan.env}


def build_container(plan: PodPlan, context: PodContext) -> Container:
    """The Hera Container template of one plan; the caller has checked that the plan has an image."""
    from hera.workflows import Container, Env, Parameter
    from hera.workflows import models as m

    labels, annotations = _metadata(plan)
    spec = plan.kubernetes
    outputs = None
    if plan.role.writes_splits:
        outputs = [Parameter(name=SPLITS_OUTPUT, value_from=m.ValueFrom(path=SPLITS_PATH))]
    if plan.role.writes_branch:
        outputs = [Parameter(name=BRANCH_OUTPUT, value_from=m.ValueFrom(path=BRANCH_PATH))]
    timeout = plan.timeout
    return Container(
        name=plan.template_name,
        image=plan.image,
        image_pull_policy=spec.image_pull_policy,
        command=[*plan.environment.command_wrapper, *context.bootstrap(_interpreter(plan), task_argv(plan, context))],
        inputs=[Parameter(name=STEP_INPUT), Parameter(name=STEP_LABEL_INPUT), Parameter(name=INDEX_PATH_INPUT)],
        outputs=outputs,
        env=[Env(name=name, value=value) for name, value in sorted(_environment(plan, context).items())],
        working_dir=HOME_DIR,
        resources=_resources(plan, context),
        security_context=m.SecurityContext.model_validate(CONTAINER_SECURITY_CONTEXT),
        volume_mounts=_mounts(plan, context),
        volumes=_own_volumes(plan),
        node_selector=dict(spec.node_selector) or None,
        tolerations=[m.Toleration.model_validate(toleration.to_kubernetes()) for toleration in spec.tolerations]
        or None,
        service_account_name=spec.service_account,
        retry_strategy=_retry_strategy(plan),
        active_deadline_seconds=None if timeout is None else timeout.total_seconds + STARTUP_ALLOWANCE_SECONDS,
        labels=labels,
        annotations=annotations,
    )
