"""`IncludeFile`: a parameter whose value is the content of a file on the machine that starts the run.

As in Metaflow, the flow is given a path (``--data movies.csv``, or the ``default``) and every step sees the file's
content: text (``is_text=True``, decoded with ``encoding``) or bytes. The file is read where the run starts, and the
content travels with the run like any parameter value, so a pod needs no copy of the file. Bytes travel as base64
text inside the JSON that carries every parameter value.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from flowkit.authoring.parameter import Parameter
from flowkit.errors import ParameterError


class IncludeFile(Parameter):
    """``data = IncludeFile("data", default="movies.csv", is_text=True)``: ``self.data`` is the file's content."""

    def __init__(
        self,
        name: str,
        default: str | None = None,
        help: str | None = None,  # Metaflow's keyword name, shadowing the builtin on purpose
        required: bool = False,
        is_text: bool = True,
        encoding: str = "utf-8",
    ) -> None:
        super().__init__(name, default=default, type=str if is_text else bytes, help=help, required=required)
        self.is_text = is_text
        self.encoding = encoding

    def __set_name__(self, owner: type, attribute: str) -> None:
        super().__set_name__(owner, attribute)
        if isinstance(self.default, str) and Path(self.default).is_file():
            self.default = self.parse(self.default)  # read where the flow is defined, i.e. where runs start

    def parse(self, text: str) -> Any:
        """Read the file at the path `text`."""
        try:
            content = Path(text).expanduser().read_bytes()
            return content.decode(self.encoding) if self.is_text else content
        except (OSError, UnicodeDecodeError) as error:
            raise ParameterError(f"cannot include the file {text!r}: {error}", **self._where()) from None

    def to_json(self, value: Any) -> str:
        if isinstance(value, bytes):
            return json.dumps({"base64": base64.b64encode(value).decode("ascii")})
        return super().to_json(value)

    def from_json(self, text: str) -> Any:
        decoded = json.loads(text)
        if not self.is_text and isinstance(decoded, dict) and "base64" in decoded:
            return base64.b64decode(decoded["base64"])
        return super().from_json(text)
