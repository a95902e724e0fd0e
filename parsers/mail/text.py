"""Readable text: HTML converted, line ends normalised, quoted history and signatures stripped.

Stripping is line-based: the new text ends where the first sign of quoted
history or a signature begins. The signs are those of the mail clients the
help desk hears from: "> " quotes; "On ... wrote:" (and German "Am ...
schrieb ...:"); Outlook's "-----Original Message-----", its underscore rule
and its "From: / Sent:" block; Chinese clients' "在 ... 写道：",
"-----原始邮件-----" and "发件人: / 发送时间:" blocks (QQ Mail's
"------------------ 原始邮件 ------------------" too); the "-- " signature
separator; and "Sent from my iPhone" / "发自我的iPhone" lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from inscriptis import get_text
from inscriptis.model.config import ParserConfig

_HTML_CONFIG = ParserConfig(display_links=False, display_images=False)

_LINE_END = re.compile(r"\r\n|\r|\u2028|\u2029|\x85")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0\u3000]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# A line of its own that starts the quoted history.
_HISTORY_LINE = re.compile(
    r"""^[\s>*]*(?:
        -{2,}\s*(?:Original\s+Message|原始邮件|原始郵件|原邮件)\s*-{2,}
      | On\s(?=.*\d).{1,400}\swrote:
      | Am\s(?=.*\d).{1,400}\sschrieb\s.{0,200}:
      | (?=.*\d).{0,400}写道[:：]
    )[\s*]*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "On <date>, <name>" wrapped by the client, "wrote:" alone on the next line.
# Attribution lines always carry a date: the digit keeps prose out.
_WRAPPED_ON = re.compile(r"^\s*On\s(?=.*\d).{1,400}$", re.IGNORECASE)
_WROTE_ALONE = re.compile(r"^\s*.{0,200}\swrote:\s*$|^\s*wrote:\s*$", re.IGNORECASE)
# Header blocks that clients put above the quoted message.
_FROM_LINE = re.compile(r"^[\s*]*(?:From|发件人|寄件者)\s*\*?\s*[:：]", re.IGNORECASE)
_SENT_LINE = re.compile(
    r"^[\s*]*(?:Sent|Date|发送时间|日期|寄件日期|時間)\s*\*?\s*[:：]", re.IGNORECASE
)
_UNDERSCORE_RULE = re.compile(r"^\s*_{10,}\s*$")
_HEADER_BLOCK_REACH = 4  # lines after From: in which Sent:/Date: must appear

_SIGNATURE_LINE = re.compile(
    r"""^\s*(?:
        --
      | Sent\sfrom\smy\s\S.{0,60}
      | Get\sOutlook\sfor\s(?:iOS|Android)
      | 发自我的\s*\S.{0,30}
      | 从我的\s*\S.{0,30}发送
      | 寄自我的\s*\S.{0,30}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_QUOTED_LINE = re.compile(r"^\s*>")


def html_to_text(html: str) -> str:
    """HTML as the text a reader sees (inscriptis: block layout, tables, no markup)."""
    text: str = get_text(html, _HTML_CONFIG)
    return text


def normalized(text: str) -> str:
    """One line-end style, no control characters or trailing spaces, at most one blank line."""
    text = _LINE_END.sub("\n", text).lstrip("\ufeff")
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


def strip_history(text: str) -> str:
    """The new text of a reply: quoted history, quote lines and signature removed.

    When the history marker comes first (answers written between quotes
    below it), the unquoted lines below it are the new text.
    """
    lines = text.split("\n")
    end = _signature_start(lines)
    start = _history_start(lines, end)
    own = _unquoted(lines[:start])
    if not own and start < end:
        own = _unquoted(lines[start + 1 : end], skip_markers=True)
    return "\n".join(own).strip("\n")


def _unquoted(lines: Sequence[str], *, skip_markers: bool = False) -> list[str]:
    kept = [line for line in lines if not _QUOTED_LINE.match(line)]
    if skip_markers:
        kept = [line for line in kept if not _HISTORY_LINE.match(line)]
    return kept if any(line.strip() for line in kept) else []


def _signature_start(lines: Sequence[str]) -> int:
    return next((i for i, line in enumerate(lines) if _SIGNATURE_LINE.match(line)), len(lines))


def _history_start(lines: Sequence[str], end: int) -> int:
    for index in range(end):
        if _starts_history(lines, index):
            return index
    return end


def _starts_history(lines: Sequence[str], index: int) -> bool:
    line = lines[index]
    following = lines[index + 1 : index + 1 + _HEADER_BLOCK_REACH]
    if _HISTORY_LINE.match(line):
        return True
    if _WRAPPED_ON.match(line) and following and _WROTE_ALONE.match(following[0]):
        return True
    if _UNDERSCORE_RULE.match(line):
        return any(_FROM_LINE.match(next_line) for next_line in following[:2])
    return bool(_FROM_LINE.match(line)) and any(_SENT_LINE.match(n) for n in following)
