"""`env lock|show|check` and `image`: the flow's conda environments from the command line.

Only click is imported here at module level; the environments layer (and through it conda-lock) loads when one of
these commands runs, so `python myflow.py run` never pays for it.
"""

from __future__ import annotations

from pathlib import Path

import click

_STEP_OPTION = click.option(
    "--step", default=None, help="The environment of this step [default: every environment of the flow]."
)


def register(group: click.Group) -> None:
    """Add the `env` group and the `image` command to a flow's group."""
    group.add_command(env_group)
    group.add_command(image_command)


@click.group("env")
def env_group() -> None:
    """Lock, list and check the flow's conda environments (conda-lock.yml beside the flow)."""


@env_group.command("lock")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    help="Lock for this platform instead of the declared ones (repeatable), e.g. linux-64, osx-arm64.",
)
@click.option(
    "--mapping-url",
    default=None,
    help="conda-lock's PyPI-to-conda name mapping (URL or file) for pip packages [default: conda-lock's].",
)
@_STEP_OPTION
@click.pass_obj
def lock_command(flow_cls: type, platforms: tuple[str, ...], mapping_url: str | None, step: str | None) -> None:
    """Solve each declared environment with conda-lock and write its lockfile."""
    from flowkit.environments.declaration import selected_targets
    from flowkit.environments.locking import lock_environment

    for target in selected_targets(flow_cls, step):
        path = lock_environment(target, platforms, mapping_url=mapping_url)
        click.echo(f"locked {', '.join(target.steps)} -> {path}")


@env_group.command("show")
@_STEP_OPTION
@click.pass_obj
def show_command(flow_cls: type, step: str | None) -> None:
    """List the locked packages of each environment, per platform, with the environment id."""
    from flowkit.environments.declaration import selected_targets
    from flowkit.environments.lockfile import locked_packages, read_lockfile, render_environment
    from flowkit.errors import FlowDefinitionError

    for target in selected_targets(flow_cls, step):
        lockfile = read_lockfile(target.lockfile_path)
        click.echo(f"{target.lockfile_path.name} (steps: {', '.join(target.steps)})")
        for platform, packages in locked_packages(lockfile).items():
            try:
                rendered = render_environment(lockfile, platform, flow=target.flow_name, step=target.step)
                click.echo(f"  {platform}  environment {rendered.env_id}")
            except FlowDefinitionError as unusable:
                click.echo(f"  {platform}  not runnable: {unusable.message}")
            for package in packages:
                click.echo(f"    {package.name:<32} {package.version:<20} {package.manager}")


@env_group.command("check")
@_STEP_OPTION
@click.pass_obj
def check_command(flow_cls: type, step: str | None) -> None:
    """Say whether each lockfile still matches its declaration; exit 1 when one is stale."""
    from flowkit.environments.declaration import selected_targets
    from flowkit.environments.locking import check_lockfile

    stale = False
    for target in selected_targets(flow_cls, step):
        status = check_lockfile(target)
        if status.is_fresh:
            click.echo(f"{status.lockfile_path.name}: up to date")
        else:
            stale = True
            click.echo(f"{status.lockfile_path.name}: stale: {'; '.join(status.problems)}")
    if stale:
        raise click.exceptions.Exit(1)


@click.command("image")
@click.option(
    "--base",
    default=None,
    help="Miniconda base image with a fixed tag [default: continuumio/miniconda3 at a pinned tag].",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the build context [default: flowkit-image/ beside the flow].",
)
@click.option("--step", default=None, help="Build the environment of this step [default: the one start runs in].")
@click.pass_obj
def image_command(flow_cls: type, base: str | None, output_dir: Path | None, step: str | None) -> None:
    """Write a Dockerfile and .dockerignore that install the locked environment; print the image tag."""
    from flowkit.environments.declaration import default_target
    from flowkit.environments.dockerfile import DEFAULT_BASE_IMAGE, write_image_context
    from flowkit.environments.locking import locked_environment
    from flowkit.environments.pod import pod_platform

    target = default_target(flow_cls, step)
    platform = pod_platform(target.spec, flow=target.flow_name, step=target.step)
    environment = locked_environment(target, platform)
    directory = output_dir or target.flow_dir / "flowkit-image"
    context = write_image_context(environment, directory, target.spec.image_repository, base or DEFAULT_BASE_IMAGE)
    click.echo(f"wrote {context.directory / 'Dockerfile'}; build it with:", err=True)
    click.echo(f"  docker build --tag {context.tag} {context.directory}", err=True)
    click.echo(context.tag)
