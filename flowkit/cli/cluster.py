"""`flowkit cluster-setup`: print (or apply) what a namespace needs before flows run in it.

Not a flow command: it takes no flow file, and is imported only when it runs (the console script's table of
commands without a flow file); PyYAML and the Kubernetes client load when it does.
"""

from __future__ import annotations

import click

from flowkit import settings
from flowkit.deploy.cluster_setup import DEFAULT_SERVICE_ACCOUNT


@click.command("cluster-setup")
@click.option(
    "--namespace",
    default=None,
    help=f"Namespace the flows run in (it must exist) [default: {settings.NAMESPACE.describe_default()}, required].",
)
@click.option(
    "--service-account",
    default=None,
    help=f"ServiceAccount the pods run as [default: ${settings.SERVICE_ACCOUNT.env_var} or {DEFAULT_SERVICE_ACCOUNT}].",
)
@click.option(
    "--claim",
    default=None,
    help=f"Datastore PersistentVolumeClaim [default: {settings.DATASTORE_CLAIM.describe_default()}].",
)
@click.option("--size", default="100Gi", show_default=True, help="Storage the claim requests.")
@click.option("--storage-class", default=None, help="StorageClass of the claim [default: the cluster's default].")
@click.option(
    "--access-mode",
    type=click.Choice(["ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]),
    default="ReadWriteMany",
    show_default=True,
    help="ReadWriteMany unless the cluster has a single node: a run's pods mount the claim on many nodes at once.",
)
@click.option("--apply", "apply_now", is_flag=True, help="Create the objects instead of printing them.")
@click.option("--kubeconfig", default=None, help="kubeconfig file [default: $KUBECONFIG, ~/.kube/config].")
@click.option("--context", "kube_context", default=None, help="kubeconfig context [default: current].")
def cluster_setup_command(
    namespace: str | None,
    service_account: str | None,
    claim: str | None,
    size: str,
    storage_class: str | None,
    access_mode: str,
    apply_now: bool,
    kubeconfig: str | None,
    kube_context: str | None,
) -> None:
    """Print the ServiceAccount, the executor and deployer Roles, the executor RoleBinding and the datastore claim
    a namespace needs (`kubectl apply -f -` takes the output), or create them with --apply.

    Namespace, service account and claim default to the cluster profile's, so the namespace is set up for exactly
    what flows deployed with that profile use."""
    import yaml

    from flowkit.deploy.cluster_setup import NamespaceSetup, apply_objects, namespace_objects
    from flowkit.deploy.config import kube_client_factory

    namespace = settings.value(settings.NAMESPACE, namespace)
    if namespace is None:
        raise click.UsageError(f"give --namespace (or set ${settings.NAMESPACE.env_var} or the profile's namespace)")
    setup = NamespaceSetup(
        namespace,
        settings.value(settings.SERVICE_ACCOUNT, service_account) or DEFAULT_SERVICE_ACCOUNT,
        str(settings.value(settings.DATASTORE_CLAIM, claim)),
        size,
        storage_class,
        access_mode,
    )
    objects = namespace_objects(setup)
    if not apply_now:
        click.echo(yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True), nl=False)
        return
    for applied in apply_objects(kube_client_factory(kubeconfig, kube_context), namespace, objects):
        click.echo(f"{applied.kind} {applied.name}: {applied.outcome}")
    click.echo(
        f"Bind Role flowkit-deployer to whoever deploys flows: kubectl -n {namespace} create rolebinding "
        "flowkit-deployer --role flowkit-deployer --user USER (or --serviceaccount NS:NAME)."
    )
