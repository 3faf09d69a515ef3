"""The HTML page around a card's content: one self-contained file (inline CSS, no scripts, no network).

A card is opened from a laptop, a notebook or a PVC mounted from an air-gapped cluster, so it can rely on nothing
but itself. The same style sheet dresses the web UI's pages, so a card looks alike wherever it is shown.
"""

from __future__ import annotations

import html

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #263238;
       background: #fff; font-size: 14px; }
main { padding: 16px 24px; max-width: 1200px; }
h1 { font-size: 20px; margin: 8px 0 12px; } h2 { font-size: 16px; margin: 20px 0 8px; }
a { color: #1565c0; text-decoration: none; } a:hover { text-decoration: underline; }
table.fk-table { border-collapse: collapse; margin: 6px 0; }
table.fk-table th, table.fk-table td { border: 1px solid #cfd8dc; padding: 4px 8px; text-align: left;
       vertical-align: top; }
table.fk-table th { background: #eceff1; }
pre { background: #f5f7f8; padding: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-word;
      margin: 4px 0; }
table.fk-table pre { background: none; padding: 0; margin: 0; }
.fk-component { margin: 12px 0; } .fk-image img { max-width: 100%; } .fk-image figcaption { color: #607d8b; }
.fk-artifact-name { font-weight: bold; } .fk-error { color: #b71c1c; background: #ffebee; padding: 6px 8px; }
.fk-progress progress { width: 320px; height: 16px; vertical-align: middle; margin-right: 8px; }
.fk-meta { color: #546e7a; } .fk-scroll { overflow-x: auto; }
.fk-status { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; }
.fk-status-succeeded { background: #43a047; } .fk-status-failed { background: #e53935; }
.fk-status-running { background: #1e88e5; } .fk-status-retrying { background: #fb8c00; }
.fk-status-pending { background: #9e9e9e; }
"""


def html_page(
    title: str, body: str, *, refresh_seconds: float | None = None, extra_head: str = "", before_main: str = ""
) -> str:
    """A complete HTML document; ``refresh_seconds`` makes the browser reload it (a card of a running task)."""
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds:g}">' if refresh_seconds else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"{refresh}<title>{html.escape(title)}</title><style>{STYLE}</style>{extra_head}</head>"
        f"<body>{before_main}<main>{body}</main></body></html>\n"
    )
