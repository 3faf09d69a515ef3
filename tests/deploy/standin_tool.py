"""A stand-in for docker, kind and kubectl: records each call and answers like the real tool would.

Usage (through a wrapper named after the tool, first on PATH): ``python standin_tool.py TOOL ARGS...``. Each call is
appended to ``$STANDIN_LOG`` as one JSON line ``{"tool", "argv", "stdin"}`` (stdin only for commands that read it).
``$STANDIN_PHASE`` is the phase ``kubectl get workflow`` reports; ``$STANDIN_LOGS`` what ``kubectl logs`` prints.
"""

from __future__ import annotations

import json
import os
import sys


def _reads_stdin(tool: str, argv: list[str]) -> bool:
    return (tool == "kubectl" and "-f" in argv and argv[argv.index("-f") + 1] == "-") or (
        tool == "docker" and argv[:1] == ["build"] and argv[-1] == "-"
    )


def main(tool: str, argv: list[str]) -> int:
    stdin = sys.stdin.read() if _reads_stdin(tool, argv) else None
    with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "argv": argv, "stdin": stdin}) + "\n")
    if tool == "kubectl" and argv[:2] == ["create", "namespace"]:
        print(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {argv[2]}")
    elif tool == "kubectl" and "get" in argv and "workflow" in argv:
        phase = os.environ["STANDIN_PHASE"]
        print(phase if any(arg.startswith("jsonpath=") for arg in argv) else f"status:\n  phase: {phase}", end="")
    elif tool == "kubectl" and "logs" in argv:
        print(os.environ.get("STANDIN_LOGS", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
