"""Screenshots of the web UI and of a card for the docs (docs/images/), taken in headless Chromium.

    python scripts/ui_screenshots.py [--out docs/images]

Runs examples/cards.py into a temporary datastore, serves it with the UI and saves: the run page (DAG and
timeline), a task page, and the training card. Needs Debian's chromium and chromium-driver, selenium and the
``ui`` extra (the test extras have them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

MAX_HEIGHT = 2400


def capture(driver: Any, url: str, target: Path, *, width: int = 1280) -> None:
    """Load ``url`` and save the whole page (up to MAX_HEIGHT pixels tall) as a PNG."""
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.get(url)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, MAX_HEIGHT)})
    driver.save_screenshot(str(target))
    print(f"wrote {target.relative_to(REPO_ROOT) if target.is_relative_to(REPO_ROOT) else target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images")
    args = parser.parse_args()

    from flowkit.cli.main import load_flow_class
    from flowkit.ui.server import background_server
    from tests.ui.browser import start_chromium

    flow_cls = load_flow_class(str(REPO_ROOT / "examples" / "cards.py"))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ui-screenshots-") as directory:
        root = Path(directory) / "datastore"
        run = flow_cls.run(datastore_root=root, max_workers=2)
        if not run.successful:
            raise SystemExit("the example run failed; no screenshots taken")
        driver = start_chromium(Path(directory) / "profile")
        try:
            with background_server(root) as url:
                base = f"{url}/runs/{flow_cls.__name__}/{run.id}"
                capture(driver, base, args.out / "ui-run.png")
                capture(driver, f"{base}/train/0.1", args.out / "ui-task.png")
                card = f"{url}/cards/{flow_cls.__name__}/{run.id}/train/0.1/0.blank.training.html"
                capture(driver, card, args.out / "card-training.png", width=900)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
