"""What a mail's subject says of it, for parsers and rules alike."""

from __future__ import annotations

import re

_REPLY = re.compile(r"^\s*(?:re|aw|sv|vs|antw|回复|回覆|答复)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]", re.I)


def is_reply_subject(subject: str) -> bool:
    """Whether the subject starts as a reply does (Re:, AW:, 回复:), not a forward."""
    return _REPLY.match(subject) is not None
