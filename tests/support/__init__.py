"""Test support code shared across test areas (schema validation, Argo emulation, a fake Kubernetes API)."""
