"""Cards rendered in (emulated) Argo pods land on the datastore claim, where the client and the UI find them.

That card rendering needs nothing beyond the standard library is checked on its imports in test_cards.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.cards import get_cards
from flowkit.cli.main import load_flow_class
from flowkit.client import Run
from flowkit.compiler import compile_flow
from flowkit.compiler.render import to_dicts
from flowkit.packaging import build_package, build_payload, publish_to_dir
from tests.support.argo_emulator import run_workflow_template

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.e2e


def test_the_cards_example_renders_its_cards_onto_the_claim_in_pods(tmp_path: Path) -> None:
    flow_cls = load_flow_class(str(EXAMPLES / "cards.py"))
    pvc = tmp_path / "pvc"
    package = publish_to_dir(build_package(flow_cls, EXAMPLES), build_payload(flow_cls, EXAMPLES), pvc)
    compiled = compile_flow(flow_cls, package=package)
    emulated = run_workflow_template(
        to_dicts(compiled)[0],
        config_maps=[compiled.bootstrap_config_map],
        arguments={"epochs": "3"},
        pvc_dirs={"flowkit-datastore": pvc},
        workdir=tmp_path / "emulator",
        env={"FLOWKIT_PACKAGE_CACHE": str(tmp_path / "package-cache")},
    )
    assert emulated.phase == "Succeeded", f"{emulated.message}\n{emulated.logs()}"
    run = Run(f"CardsFlow/{emulated.workflow_name}", datastore_root=pvc)
    assert run.successful
    for task in run["train"].tasks:
        cards = {(card.type, card.id): card.get() for card in get_cards(task)}
        assert sorted(cards) == [("blank", "training"), ("default", None)]
        assert '<progress max="3" value="3">' in cards[("blank", "training")]
        assert "<h2>Artifacts</h2>" in cards[("default", None)] and "final_loss" in cards[("default", None)]
    (join,) = run["join"].tasks
    assert "final loss by learning rate" in get_cards(join)[0].get()
