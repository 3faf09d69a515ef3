"""Errors raised by the Argo emulator when a manifest asks for something it cannot faithfully do."""

from __future__ import annotations


class UnsupportedManifestFeature(NotImplementedError):
    """The manifest uses an Argo feature the emulator does not implement; it refuses rather than ignore it."""


class UnresolvedVariable(ValueError):
    """A ``{{...}}`` tag names a variable that Argo would not know at that point of the workflow."""
