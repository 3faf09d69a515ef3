"""Write `flowkit/specs/defaults.py` from the spec models: ``python -m flowkit.specs.generate_defaults``.

A step that declares no `@kubernetes` or `@retry` holds no model, and its record still shows the models' defaults;
those are read from the generated module so that a flow without decorators never imports pydantic. The models stay
the one place the defaults are written; tests check that the generated module is current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET = Path(__file__).with_name("defaults.py")

_HEADER = '''"""The spec models' defaults as JSON dumps, for steps that declare no spec (read without pydantic).

Generated from the models by ``python -m flowkit.specs.generate_defaults``; do not edit.
"""

from typing import Any

'''


def render() -> str:
    """The text of the generated module."""
    from flowkit.specs.kubernetes import KubernetesSpec
    from flowkit.specs.retry import RetrySpec

    dumps = {
        "KUBERNETES": ("A step without @kubernetes", KubernetesSpec().model_dump(mode="json")),
        "RETRY": ("A step without @retry runs once", RetrySpec(times=0).model_dump(mode="json")),
    }
    blocks = []
    for name, (meaning, dump) in dumps.items():
        items = "".join(f"    {json.dumps(key)}: {_literal(value)},\n" for key, value in dump.items())
        blocks.append(f'{name}: dict[str, Any] = {{\n{items}}}\n"""{meaning}."""\n')
    return _HEADER + "\n".join(blocks)


def _literal(value: object) -> str:
    """Python source for a JSON value, quoted as the formatter quotes it."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def main() -> int:
    """Rewrite the generated module; with ``--check``, exit 1 if it is not current instead."""
    text = render()
    if "--check" in sys.argv[1:]:
        return 0 if TARGET.read_text() == text else 1
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
