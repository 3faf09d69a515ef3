"""What a user writes: the Flow base class, `@step`, parameters and the spec decorators.

Nothing is imported here on purpose: `flowkit/__init__.py` resolves the public names lazily, and each submodule has
one job (markers on functions, decorators, the Flow class, parameters, the `current` task context).
"""
