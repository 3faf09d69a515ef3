"""Every setting flowkit reads from its surroundings, declared once: name, ``FLOWKIT_*`` variable, default, meaning.

A value is looked up through an ordered list of layers, the first that has one wins: a value given explicitly (a
command-line option, a function argument), then the process environment, then the built-in default. `Resolved`
says which layer a value came from, so a command can show where each value came from, and another layer (a
configuration file) slots in between the environment and the defaults without changing any caller.

Standard library only: the task entry point in a pod reads its settings before anything else of flowkit loads
(and NamedTuples rather than dataclasses, whose import with ``inspect`` would cost every pod's start some 10 ms).
Two scripts cannot import this module because they run before flowkit is on ``sys.path`` (the package bootstrap
and the conda materializer); they spell the variables they read or set themselves, and a test holds those
spellings to the declarations here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

ENV_PREFIX = "FLOWKIT_"
DATASTORE_DIR = ".flowkit"
"""The datastore's directory name when no root is configured."""
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


class Setting(NamedTuple):
    """One setting: read from ``FLOWKIT_<NAME>`` (then from ``also_read``, in order), else its default.

    ``default`` is a fixed value; ``compute_default`` computes one when it depends on where flowkit runs, and
    ``default_text`` says in words what the default is (for help texts). A setting flowkit sets for the processes
    it starts (a task's environment id, a run's tags) is marked ``set_by_flowkit``.
    """

    name: str
    meaning: str
    default: str | None = None
    default_text: str | None = None
    compute_default: Callable[[], str] | None = None
    also_read: tuple[str, ...] = ()
    set_by_flowkit: bool = False

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def describe_default(self) -> str:
        """The default as help texts show it, e.g. ``$FLOWKIT_DATASTORE_ROOT or ./.flowkit``."""
        fallback = self.default_text or self.default or "none"
        return f"${self.env_var} or {fallback}"


def _nearest_datastore() -> str:
    """The nearest ``.flowkit`` in the current directory or its parents (as Metaflow finds its ``.metaflow``, so a
    notebook in a project's subfolder sees the runs started from the project's root), else ``./.flowkit``."""
    here = Path.cwd()
    for directory in (here, *here.parents):
        if (directory / DATASTORE_DIR).is_dir():
            return str(directory / DATASTORE_DIR)
    return str(here / DATASTORE_DIR)


DATASTORE_ROOT = Setting(
    "datastore_root",
    "where runs, artifacts, code packages and environments are stored (a local directory or a volume's mount)",
    default_text="the nearest .flowkit",
    compute_default=_nearest_datastore,
)
PACKAGE_CACHE = Setting(
    "package_cache",
    "where a pod's bootstrap caches extracted code packages when the workflow names no cache directory",
    default_text="$TMPDIR/flowkit-packages",
)
USER = Setting(
    "user",
    "the user runs are attributed to (tag user:NAME) and whose namespace the client reads by default",
    default="unknown",
    default_text="$METAFLOW_USER, $SUDO_USER, $USERNAME, $USER or 'unknown'",
    also_read=("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER"),
)
DEBUG = Setting(
    "debug",
    "show full tracebacks instead of one-line errors (any value but 0, false, no, off)",
    default="0",
)
RUN_TAGS = Setting(
    "run_tags", "the run's user tags, a JSON list (set for each task of a run)", default="[]", set_by_flowkit=True
)
PROJECT_BRANCH = Setting(
    "project_branch", "the @project branch a run belongs to (set for each task of a run)", set_by_flowkit=True
)
CODE_PACKAGE_ID = Setting(
    "code_package_id",
    "the code package a task runs from (set by the package bootstrap; recorded in run and task records)",
    set_by_flowkit=True,
)
ENVIRONMENT_ID = Setting(
    "environment_id",
    "the locked conda environment a task runs in (set when a step runs in one; recorded in run and task records)",
    set_by_flowkit=True,
)

CONFIG = Setting(
    "config",
    "the configuration file (JSON) holding cluster defaults: setting names as keys, and named profiles under "
    '"profiles"',
    default_text="~/.flowkit/config.json",
    compute_default=lambda: str(Path("~/.flowkit/config.json").expanduser()),
)
PROFILE = Setting(
    "profile",
    "the profile of the configuration file whose values apply (its 'profiles' entry)",
    default_text="none: the file's top level only",
)

# Cluster defaults: what a flow's pods get on Argo when neither the step's nor the class's decorators say.
IMAGE = Setting(
    "image", "the container image of steps whose decorators name none", default_text="none: a step must name one"
)
NAMESPACE = Setting("namespace", "the namespace flows deploy to", default_text="the kubeconfig context's")
SERVICE_ACCOUNT = Setting("service_account", "the ServiceAccount every pod runs as", default_text="the namespace's")
DATASTORE_CLAIM = Setting("datastore_claim", "the datastore PersistentVolumeClaim", default="flowkit-datastore")
DATASTORE_MOUNT = Setting("datastore_mount", "where pods mount the datastore claim", default="/flowkit")
IMAGE_PULL_SECRETS = Setting(
    "image_pull_secrets",
    "Secrets pods pull images with (comma-separated names, or a JSON list in the configuration file)",
    default_text="none",
)
NODE_SELECTOR = Setting("node_selector", "node labels every pod must run on (JSON object)", default_text="none")
TOLERATIONS = Setting("tolerations", "taints every pod tolerates (JSON list of tolerations)", default_text="none")
CPU = Setting("cpu", "the CPU request and limit of steps that ask for none", default="1")
MEMORY = Setting("memory", "the memory request and limit of steps that ask for none", default="4Gi")
UPLOAD_IMAGE = Setting(
    "upload_image", "the image of the pod that copies code packages onto the claim", default_text="busybox:1.36"
)
ARGO_VERSION = Setting("argo_version", "the Argo Workflows version manifests are written for", default="4")

CLUSTER_SETTINGS = (
    IMAGE,
    NAMESPACE,
    SERVICE_ACCOUNT,
    DATASTORE_CLAIM,
    DATASTORE_MOUNT,
    IMAGE_PULL_SECRETS,
    NODE_SELECTOR,
    TOLERATIONS,
    CPU,
    MEMORY,
    UPLOAD_IMAGE,
    ARGO_VERSION,
)
"""The settings a cluster profile may hold (from the configuration file or the environment)."""

SETTINGS: dict[str, Setting] = {
    setting.name: setting
    for setting in (
        DATASTORE_ROOT,
        PACKAGE_CACHE,
        USER,
        DEBUG,
        RUN_TAGS,
        PROJECT_BRANCH,
        CODE_PACKAGE_ID,
        ENVIRONMENT_ID,
        CONFIG,
        PROFILE,
        *CLUSTER_SETTINGS,
    )
}
"""Every setting by name."""


class Resolved(NamedTuple):
    """A setting's value and the layer it came from (``argument``, ``environment ($FLOWKIT_...)``, ``default``)."""

    setting: Setting
    value: str | None
    source: str


class SettingsLayer(Protocol):
    """One place settings may come from."""

    def lookup(self, setting: Setting) -> Resolved | None:
        """The setting's value in this layer, or None when this layer does not set it."""


class EnvironmentLayer(NamedTuple):
    """The process environment (``os.environ`` unless another mapping is given); an empty variable is unset."""

    environ: Mapping[str, str] | None = None

    def lookup(self, setting: Setting) -> Resolved | None:
        environ = os.environ if self.environ is None else self.environ
        for variable in (setting.env_var, *setting.also_read):
            value = environ.get(variable)
            if value:
                return Resolved(setting, value, f"environment (${variable})")
        return None


class ConfigFileLayer(NamedTuple):
    """The configuration file: a JSON object whose keys are setting names (``"image": "..."``), and whose
    ``"profiles"`` object holds named sets of them; the profile named by ``profile`` wins over the top level.

    Only cluster defaults are read from it: the file describes where flows run, not how flowkit itself behaves.
    """

    path: Path
    profile: str | None = None

    def _values(self) -> dict[str, object]:
        import json

        try:
            content = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ValueError(f"configuration file {self.path} cannot be read as JSON: {error}") from error
        if not isinstance(content, dict):
            raise ValueError(f"configuration file {self.path} must hold a JSON object")
        profiles = content.get("profiles", {})
        values = {key: value for key, value in content.items() if key != "profiles"}
        if self.profile is not None:
            if self.profile not in profiles:
                raise ValueError(
                    f"configuration file {self.path} has no profile {self.profile!r} (it has {sorted(profiles)})"
                )
            values.update(profiles[self.profile])
        known = {setting.name for setting in CLUSTER_SETTINGS}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"configuration file {self.path}: unknown settings {unknown} (known: {sorted(known)})")
        return values

    def lookup(self, setting: Setting) -> Resolved | None:
        if setting not in CLUSTER_SETTINGS:  # the file is not even read for flowkit's own settings
            return None
        values = self._values()
        if setting.name not in values:
            return None
        found = values[setting.name]
        text = found if isinstance(found, str) else _json_text(found)
        where = f"profile {self.profile!r} of " if self.profile is not None else ""
        return Resolved(setting, text, f"{where}configuration file {self.path}")


def _json_text(found: object) -> str:
    import json

    return json.dumps(found)


def default_layers() -> list[SettingsLayer]:
    """The layers consulted after an explicit value and before the built-in defaults: the environment, then the
    configuration file (its path and profile themselves come from the environment)."""
    environment = EnvironmentLayer()
    config = resolve(CONFIG, layers=[environment]).value
    profile = resolve(PROFILE, layers=[environment]).value
    return [environment, ConfigFileLayer(Path(str(config)), profile)]


def resolve(setting: Setting, explicit: object = None, layers: Sequence[SettingsLayer] | None = None) -> Resolved:
    """The value of ``setting``: ``explicit`` if given (not None), else the first layer's, else the default."""
    if explicit is not None:
        return Resolved(setting, str(explicit), "argument")
    for layer in default_layers() if layers is None else layers:
        found = layer.lookup(setting)
        if found is not None:
            return found
    default = setting.compute_default() if setting.compute_default is not None else setting.default
    return Resolved(setting, default, "default")


def value(setting: Setting, explicit: object = None) -> str | None:
    """Shorthand for ``resolve(setting, explicit).value``."""
    return resolve(setting, explicit).value


def enabled(setting: Setting) -> bool:
    """A yes/no setting: on unless unset or one of 0, false, no, off."""
    return (value(setting) or "").strip().lower() not in _FALSE_WORDS


def resolve_datastore_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The datastore root, always absolute: ``root``, else ``$FLOWKIT_DATASTORE_ROOT``, else the nearest
    ``.flowkit`` (see `DATASTORE_ROOT`)."""
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"datastore_root must be a path (str or os.PathLike), got {type(root).__name__} {root!r}")
    chosen = value(DATASTORE_ROOT, os.fspath(root) if root else None)
    assert chosen is not None  # the setting computes a default
    return Path(chosen).expanduser().absolute()
