"""A mail's charsets explained: for each body text part, the charset it declares,
whether its bytes are valid in that charset (and if not, the narrowest related charset
they need: GB2312 text with GBK characters), what a detector makes of them, and the
codec the parser read them with: the same reading and decoder the parser uses, so the
explanation is the parser's own decision."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from core.records import IntakeRecord
from parsers.mail.charsets import decodes_strictly, detect, normalized_label
from parsers.mail.options import EmailOptions
from parsers.mail.reading import DecodedPart, MessageReading

_GB = ("gb2312", "gbk", "gb18030")
_BIG5 = ("big5", "cp950", "big5hkscs")
# declared label -> its family from the narrowest charset to the widest
_FAMILIES = {
    **dict.fromkeys(("gb2312", "gb_2312", "gb_2312-80", "gb-2312", "csgb2312", "euc-cn"), _GB),
    **dict.fromkeys(("gbk", "x-gbk", "cp936", "ms936", "windows-936"), _GB[1:]),
    **dict.fromkeys(("big5", "x-big5", "cn-big5", "csbig5"), _BIG5),
}


@dataclass(frozen=True, slots=True)
class CharsetFinding:
    part: str  # "text/plain" or "text/html"
    declared: str  # the label as compared (lower case); "" when none
    declared_fits: bool | None  # the bytes are valid in it; None: nothing or no charset known
    needs: str  # when they are not: the narrowest charset of its family they are valid in
    detected: str  # the detector's guess ("ascii" for 7-bit text); "" without one
    decoded_as: str  # the codec the parser read the part with
    defect: str  # the parser's note, e.g. charset_mismatch:utf-8

    @property
    def verdict(self) -> str:
        read = f"read as {self.decoded_as}"
        if not self.declared:
            return f"no charset declared; {read}"
        if self.defect.startswith("charset_unknown"):
            return f"declares {self.declared}, which is no known charset; {read}"
        if self.defect.startswith("charset_mismatch"):
            return f"declares {self.declared}, but the bytes are not {self.declared}; {read}"
        if self.declared_fits is False:
            needed = self.needs or self.decoded_as
            return f"declares {self.declared}, but the bytes need {needed}; {read}"
        return f"declares {self.declared}, and the bytes are valid {self.declared}; {read}"


def diagnose(record: IntakeRecord, options: EmailOptions) -> tuple[CharsetFinding, ...]:
    reading = MessageReading(record, options)
    reading.text()
    return tuple(_finding(part) for part in reading.decoded_parts)


def _finding(part: DecodedPart) -> CharsetFinding:
    label = normalized_label(part.declared)
    fits = _fits(part.data, label)
    needs = ""
    if fits is False:
        family = _FAMILIES.get(label, ())
        needs = next((codec for codec in family if decodes_strictly(part.data, codec)), "")
    detected = "ascii" if part.data.isascii() else _canonical(detect(part.data))
    return CharsetFinding(
        part=f"text/{part.subtype}",
        declared=label,
        declared_fits=fits,
        needs=needs,
        detected=detected,
        decoded_as=part.decoded.charset,
        defect=part.decoded.defect,
    )


def _canonical(codec: str | None) -> str:
    return codecs.lookup(codec).name if codec else ""


def _fits(data: bytes, label: str) -> bool | None:
    if not label:
        return None
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None
    return decodes_strictly(data, codec)
