"""Times as an editor types them, Qt-free: HH:MM:SS:FF at the video's frame rate (the
timecode of an NLE), H:MM:SS.mmm (what the lines table shows), or plain milliseconds."""

from __future__ import annotations

import re

_TIMECODE = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})[:;](\d{1,3})$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?$")


def parse_time(text: str, fps: float | None) -> int:
    """Milliseconds from "00:00:05:12" (frames at `fps`), "0:00:05.480", "5480" or
    "5480ms". Raises ValueError with what was expected."""
    t = text.strip().lower().removesuffix("ms").strip()
    if t.isdigit():
        return int(t)
    if m := _TIMECODE.match(t):
        h, mi, s, f = (int(g) for g in m.groups())
        rate = fps if fps and fps > 0 else 25.0
        if f >= round(rate) or mi > 59 or s > 59:
            raise ValueError(f"'{text}': frames run 0-{round(rate) - 1}, minutes and seconds 0-59")
        return round(((h * 60 + mi) * 60 + s) * 1000 + f * 1000 / rate)
    if m := _CLOCK.match(t):
        h, mi, s, frac = m.groups()
        if int(mi) > 59 or int(s) > 59:
            raise ValueError(f"'{text}': minutes and seconds run 0-59")
        ms = int((frac or "0").ljust(3, "0"))
        return ((int(h or 0) * 60 + int(mi)) * 60 + int(s)) * 1000 + ms
    raise ValueError(f"'{text}' is not a time: type HH:MM:SS:FF, H:MM:SS.mmm or milliseconds")


def timecode(ms: int, fps: float | None) -> str:
    """HH:MM:SS:FF of `ms` at `fps` (25 when unknown)."""
    rate = fps if fps and fps > 0 else 25.0
    s, rest = divmod(int(ms), 1000)
    frame = min(round(rate) - 1, int(rest * rate / 1000))
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{frame:02d}"
