"""Where the Kubernetes API is and who we are to it: a kubeconfig on a workstation, the service account in a pod.

Every function in `flowkit.deploy` takes an `ApiClientFactory` instead of loading configuration itself, so the CLI
decides once (``--kubeconfig``/``--context``) and tests hand in a client for a local server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.deploy.errors import DeployError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration

ApiClientFactory = Callable[[], "ApiClient"]
"""Returns a new `kubernetes.client.ApiClient`; each deploy function closes the clients it creates."""

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = "~/.kube/config"


def _kubeconfig_files(kubeconfig: str | None) -> str:
    """The kubeconfig file(s) to read, decided now: ``kubeconfig``, else $KUBECONFIG, else ~/.kube/config.

    Always passed explicitly, because the kubernetes client's own default is $KUBECONFIG as it was when
    ``kubernetes.config`` was first imported, which a long-lived process (a notebook kernel) may have done long
    before the variable was set or changed.
    """
    return kubeconfig or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG


def _in_cluster(kubeconfig: str | None) -> bool:
    """Use the pod's service account only when no kubeconfig was asked for or exists."""
    if kubeconfig or os.environ.get("KUBECONFIG"):
        return False
    has_default_kubeconfig = Path(DEFAULT_KUBECONFIG).expanduser().exists()
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not has_default_kubeconfig


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> Configuration:
    """Load the client configuration from ``kubeconfig`` (or $KUBECONFIG, ~/.kube/config), or in-cluster."""
    from kubernetes import config
    from kubernetes.client import Configuration

    configuration = Configuration()
    try:
        if _in_cluster(kubeconfig):
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=_kubeconfig_files(kubeconfig), context=context, client_configuration=configuration
            )
    except (config.ConfigException, OSError) as error:
        raise DeployError(
            f"no usable Kubernetes configuration ({error}). Point --kubeconfig or $KUBECONFIG at a kubeconfig "
            "file, or run inside a pod with a service account."
        ) from error
    return configuration


def client_factory(configuration: Configuration) -> ApiClientFactory:
    """A factory of API clients that all use ``configuration``."""
    from kubernetes.client import ApiClient

    def new_client() -> ApiClient:
        return ApiClient(configuration)

    return new_client


def kube_client_factory(kubeconfig: str | None = None, context: str | None = None) -> ApiClientFactory:
    """Load the configuration once (see `load_configuration`) and return a factory of clients for it."""
    return client_factory(load_configuration(kubeconfig, context))


def default_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace to deploy into when none is given: the pod's own, the context's, or ``default``."""
    if _in_cluster(kubeconfig):
        namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
        return namespace_file.read_text().strip() if namespace_file.exists() else "default"
    from kubernetes import config

    try:
        contexts, active = config.list_kube_config_contexts(config_file=_kubeconfig_files(kubeconfig))
    except (config.ConfigException, OSError):
        return "default"
    if context is not None:
        active = next((c for c in contexts if c.get("name") == context), active)
    namespace = (active or {}).get("context", {}).get("namespace")
    return str(namespace) if namespace else "default"
