"""The base of every user-facing spec model.

Specs are what decorators validate their keyword arguments into. They forbid unknown fields (a typo must fail
loudly, not be ignored) and are frozen, because one resolved spec is shared by the local runtime, `show` and the
Argo compiler, and none of them may change it behind the others' backs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """A validated, immutable decorator spec."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
