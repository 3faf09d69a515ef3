"""`@resources`: what a step needs, independently of where it runs (Metaflow's spelling and units).

On Kubernetes each value is combined with the `@kubernetes` one by taking the larger, as in Metaflow, so a flow can
state its needs once with `@resources` and keep `@kubernetes` for placement.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from flowkit.specs.base import SpecModel
from flowkit.specs.quantity import ByteQuantity, CpuQuantity


class ResourcesSpec(SpecModel):
    """CPU, memory (quantity or integer MiB) and GPUs a step needs."""

    cpu: CpuQuantity | None = Field(default=None, description="Cores: a number or a quantity such as '500m'.")
    memory: ByteQuantity | None = Field(default=None, description="An integer of MiB, or a quantity such as '8Gi'.")
    gpu: int | None = Field(default=None, ge=0, description="Number of GPUs.")

    @field_validator("gpu", mode="before")
    @classmethod
    def _gpu_is_a_count(cls, gpu: object) -> object:
        if isinstance(gpu, bool):
            raise ValueError("must be a number of GPUs, not a boolean")
        return gpu
