"""A stand-in for conda-lock's two solvers (conda and PyPI), the only part of locking that needs the network.

Everything around it is conda-lock's real code: parsing the generated environment file, building the lock
specification, merging platforms, writing the lockfile. The double answers with a fixed, small package table and
records what it was asked to solve, so tests can check what flowkit handed to conda-lock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from conda_lock.lockfile.v2prelim.models import HashModel, LockedDependency

NOARCH = {"pydantic", "typing-extensions", "annotated-types", "pip", "tabulate"}


@dataclass
class SolverDouble:
    """Solves any request with `versions` (unknown names get 1.0.0); pydantic brings its own dependencies."""

    versions: dict[str, str] = field(
        default_factory=lambda: {
            "python": "3.10.14",
            "numpy": "1.26.4",
            "pydantic": "2.7.1",
            "pydantic-core": "2.18.2",
            "typing-extensions": "4.11.0",
            "annotated-types": "0.6.0",
            "pip": "24.0",
            "tabulate": "0.9.0",
            "requests": "2.31.0",
        }
    )
    conda_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    pip_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def solve_conda(
        self,
        conda: Any,
        specs: dict[str, Any],
        locked: Any,
        update: Any,
        platform: str,
        channels: Any,
        mapping_url: str,
    ) -> dict[str, LockedDependency]:
        self.conda_requests.append((platform, {name: spec.version for name, spec in specs.items()}))
        names = set(specs) | {"python"}
        if "pydantic" in names:
            names |= {"pydantic-core", "typing-extensions", "annotated-types"}
        return {name: self._conda_package(name, platform) for name in sorted(names)}

    def solve_pypi(self, *, pip_specs: dict[str, Any], platform: str, **_: Any) -> dict[str, LockedDependency]:
        self.pip_requests.append((platform, {name: spec.version for name, spec in pip_specs.items()}))
        return {name: self._pip_package(name, platform) for name in sorted(pip_specs)}

    def _conda_package(self, name: str, platform: str) -> LockedDependency:
        version = self.versions.get(name, "1.0.0")
        subdir = "noarch" if name in NOARCH else platform
        return LockedDependency(
            name=name,
            version=version,
            manager="conda",
            platform=platform,
            dependencies={} if name == "python" else {"python": ">=3.10"},
            url=f"https://conda.anaconda.org/conda-forge/{subdir}/{name}-{version}-h0_0.conda",
            hash=HashModel(
                md5=_digest("md5", name, version, platform), sha256=_digest("sha256", name, version, platform)
            ),
            categories={"main"},
        )

    def _pip_package(self, name: str, platform: str) -> LockedDependency:
        version = self.versions.get(name, "1.0.0")
        return LockedDependency(
            name=name,
            version=version,
            manager="pip",
            platform=platform,
            dependencies={},
            url=f"https://files.pythonhosted.org/packages/py3/{name[0]}/{name}/{name}-{version}-py3-none-any.whl",
            hash=HashModel(sha256=_digest("sha256", name, version, "py3")),
            categories={"main"},
        )


def _digest(algorithm: str, *parts: str) -> str:
    """A placeholder checksum, stable per package (the real ones come from the channel's repodata)."""
    return hashlib.new(algorithm, "-".join(parts).encode()).hexdigest()
