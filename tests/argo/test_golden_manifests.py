"""The manifests every example emits are committed under tests/golden, so any change to them shows up in review.

Each example's ``argo-create --only-yaml`` output (run in-process, exactly as ``python FILE argo-create --only-yaml``)
is compared with ``tests/golden/<path of the example>.yaml``. The values that depend on the machine rather than on the
compiler (the code package's digests, the deploying user) and the texts and digest of the scripts in the bootstrap
ConfigMap (the bootstrap's and the conda materializer's: their own files and tests own them) are replaced by
placeholders first; everything else must match byte for byte. Every example is a file, so its pods import the flow by
reference: no manifest may name the local Python. After an intended change, rewrite the files with
``python -m pytest tests/argo/test_golden_manifests.py --update-golden`` and commit them with the change.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from flowkit.cli.main import load_flow_class
from flowkit.environments.materialize import MATERIALIZE_FILE
from flowkit.packaging.bootstrap import BOOTSTRAP_FILE, CONFIG_MAP_NAME_PREFIX
from flowkit.pod_files import NAME_HASH_LENGTH
from tests.argo.conftest import EXAMPLE_FILES, EXAMPLES
from tests.conftest import UPDATE_GOLDEN_OPTION
from tests.support.argo_schema import validate_manifest_stream

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
REGENERATE_COMMAND = f"python -m pytest {Path(__file__).relative_to(GOLDEN_DIR.parents[1])} {UPDATE_GOLDEN_OPTION}"
_MAX_DIFF_LINES = 120

# The bootstrap options whose values come from the package build, each with the placeholder that stands for it.
_DIGEST_OPTIONS = {"--package-id": "<package-id>", "--archive-sha256": "<archive-sha256>"}
# The deploying user, which every pod's environment carries (runs are attributed to them).
_USER_VARIABLE = "FLOWKIT_USER"
# A Kubernetes label value holds at most 63 characters, so the package label carries a digest's first 63.
_LABEL_LENGTH = 63
# The bootstrap ConfigMap's Python scripts (literal blocks: indented lines, blank lines) and the name its digest makes.
_SCRIPTS = "|".join(re.escape(name) for name in (BOOTSTRAP_FILE, MATERIALIZE_FILE))
_BOOTSTRAP_SCRIPTS = re.compile(rf"^(  (?:{_SCRIPTS}): )\|\n(?:    .*\n|\n)*", re.MULTILINE)
_BOOTSTRAP_NAME = re.compile(rf"\b{re.escape(CONFIG_MAP_NAME_PREFIX)}[0-9a-f]{{{NAME_HASH_LENGTH}}}\b")


def golden_path(example: Path) -> Path:
    """Where the manifests of ``example`` (a flow file under examples/) are kept."""
    return GOLDEN_DIR / example.relative_to(EXAMPLES.parent).with_suffix(".yaml")


def emitted_manifests(example: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What ``python <example> argo-create --only-yaml`` prints, from the flow's own command line in this process."""
    flow_cls = load_flow_class(str(example))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        flow_cls.main(["argo-create", "--only-yaml"])
    output = capsys.readouterr()
    assert exit_info.value.code == 0, output.err
    return output.out


def machine_independent(stream: str) -> str:
    """``stream`` with the package digests and the deploying user replaced by placeholders.

    The digests change with any edit anywhere in the packaged checkout, while the compiler puts them in the same
    places whatever they are, so comparing them would only add noise.
    """
    for option, placeholder in _DIGEST_OPTIONS.items():
        values = set(re.findall(rf"^\s*- {option}\n\s*- '?([0-9a-f]{{64}})'?$", stream, re.MULTILINE))
        assert len(values) == 1, f"expected one value of {option} in every pod's command, found {sorted(values)}"
        (digest,) = values
        stream = stream.replace(digest, placeholder).replace(digest[:_LABEL_LENGTH], f"{placeholder}[:{_LABEL_LENGTH}]")
    assert "- --python-version" not in stream, "a flow in a file travels by reference, whatever the local Python"
    stream, count = re.subn(
        rf"^(\s*- name: {_USER_VARIABLE}\n\s*value: ).*$", r"\g<1><user>", stream, flags=re.MULTILINE
    )
    assert count, f"no {_USER_VARIABLE} in any pod's environment"
    stream, count = _BOOTSTRAP_SCRIPTS.subn(r"\g<1><script>\n", stream)
    assert count == 2, "expected the bootstrap and the materializer once each, in the bootstrap ConfigMap"
    return _BOOTSTRAP_NAME.sub(f"{CONFIG_MAP_NAME_PREFIX}<script-sha256>", stream)


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_example_manifests_match_the_golden_file(
    example: Path, update_golden: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = emitted_manifests(example, capsys)
    validate_manifest_stream(raw)  # a golden file must only ever record manifests a cluster accepts
    emitted = machine_independent(raw)
    golden = golden_path(example)
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(emitted, encoding="utf-8")
        return
    assert golden.is_file(), f"no golden file {golden} for {example.name}: create it with `{REGENERATE_COMMAND}`"
    expected = golden.read_text(encoding="utf-8")
    if emitted != expected:
        diff = list(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                emitted.splitlines(keepends=True),
                str(golden.relative_to(GOLDEN_DIR.parents[1])),
                "emitted now",
            )
        )
        shown = "".join(diff[:_MAX_DIFF_LINES])
        if len(diff) > _MAX_DIFF_LINES:
            shown += f"... and {len(diff) - _MAX_DIFF_LINES} more diff lines\n"
        pytest.fail(
            f"the manifests of {example.relative_to(EXAMPLES.parent)} changed. If the change is intended, "
            f"regenerate the golden files with `{REGENERATE_COMMAND}` and commit them.\n{shown}",
            pytrace=False,
        )


def test_every_golden_file_belongs_to_an_example(update_golden: bool) -> None:
    """A golden file whose example was removed or renamed is stale; regenerating removes it."""
    expected = {golden_path(example) for example in EXAMPLE_FILES}
    stale = sorted(path for path in GOLDEN_DIR.rglob("*.yaml") if path not in expected)
    if update_golden:
        for path in stale:
            path.unlink()
        return
    assert not stale, f"golden files without an example: {stale}; remove them with `{REGENERATE_COMMAND}`"
