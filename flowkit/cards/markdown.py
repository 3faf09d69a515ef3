"""A small Markdown to HTML converter for card text, on the standard library alone.

Cards render inside the task, where a pod has only CPython and the shipped code, so no Markdown library can be
assumed. This covers what card text uses: ATX headings, paragraphs, fenced and indented code, bullet and numbered
lists, block quotes, horizontal rules, and inline code, bold, italic and links. The source is HTML-escaped first,
so raw HTML in the text is shown, never interpreted, and a link only gets an http(s), mailto or relative target.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_SAFE_URL = re.compile(r"^(https?:|mailto:|#|/|\.|[\w-]+(/|$|\.))", re.IGNORECASE)


def markdown_to_html(text: str) -> str:
    """The HTML of ``text``; never raises on odd input (unrecognised syntax stays as literal text)."""
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
        elif _FENCE.match(line):
            fence = _FENCE.match(line).group(1)  # type: ignore[union-attr]
            end = next((i for i in range(index + 1, len(lines)) if lines[i].strip().startswith(fence)), len(lines))
            blocks.append(_code_block(lines[index + 1 : end]))
            index = end + 1
        elif line.startswith(("    ", "\t")):
            end = _run_end(lines, index, lambda item: item.startswith(("    ", "\t")) or not item.strip())
            blocks.append(_code_block([item[4:] if item.startswith("    ") else item[1:] for item in lines[index:end]]))
            index = end
        elif heading := _HEADING.match(line):
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            index += 1
        elif _RULE.match(line):
            blocks.append("<hr>")
            index += 1
        elif line.lstrip().startswith(">"):
            end = _run_end(lines, index, lambda item: item.lstrip().startswith(">"))
            quoted = "\n".join(item.lstrip()[1:].removeprefix(" ") for item in lines[index:end])
            blocks.append(f"<blockquote>{markdown_to_html(quoted)}</blockquote>")
            index = end
        elif _BULLET.match(line) or _NUMBERED.match(line):
            pattern, tag = (_BULLET, "ul") if _BULLET.match(line) else (_NUMBERED, "ol")
            matches = [pattern.match(item) for item in lines[index:]]
            end = index + next((i for i, match in enumerate(matches) if match is None), len(matches))
            items = "".join(f"<li>{_inline(match.group(1))}</li>" for match in matches[: end - index] if match)
            blocks.append(f"<{tag}>{items}</{tag}>")
            index = end
        else:
            end = _run_end(lines, index, _is_paragraph_line)
            blocks.append(f"<p>{_inline(' '.join(item.strip() for item in lines[index:end]))}</p>")
            index = end
    return "\n".join(blocks)


def _run_end(lines: list[str], start: int, belongs: Callable[[str], bool]) -> int:
    """The index after the run of lines from ``start`` that ``belongs`` accepts (``start`` always belongs)."""
    end = start + 1
    while end < len(lines) and belongs(lines[end]):
        end += 1
    return end


def _is_paragraph_line(line: str) -> bool:
    if not line.strip():
        return False
    starts_block = (_HEADING, _BULLET, _NUMBERED, _RULE, _FENCE)
    return not any(pattern.match(line) for pattern in starts_block) and not line.lstrip().startswith(">")


def _code_block(lines: list[str]) -> str:
    return f"<pre><code>{html.escape(chr(10).join(lines))}</code></pre>"


def _inline(text: str) -> str:
    """Escape, then apply inline markup; code spans are set aside first so their content stays literal."""
    spans: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        spans.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(spans) - 1}\x00"

    escaped = _INLINE_CODE.sub(keep_code, html.escape(text, quote=True))
    escaped = _LINK.sub(_link, escaped)
    escaped = _BOLD.sub(r"<strong>\2</strong>", escaped)
    escaped = _ITALIC.sub(r"<em>\2</em>", escaped)
    return re.sub("\x00(\\d+)\x00", lambda match: spans[int(match.group(1))], escaped)


def _link(match: re.Match[str]) -> str:
    label, url = match.group(1), match.group(2)
    if not _SAFE_URL.match(html.unescape(url)):
        return match.group(0)
    return f'<a href="{url}">{label}</a>'
