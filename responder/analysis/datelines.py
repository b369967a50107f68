"""Datelines and bylines: where and when the reporter filed, never where the accident was.

"新华社合肥11月21日电(记者 王某)", "中新网合肥6月16日电", "本报讯", "据安徽商报报道" name
the newsroom. `mask_datelines` blanks them (same length, so offsets stay valid) before
places are read and schemes are matched.
"""

from __future__ import annotations

import re

__all__ = ["mask_datelines"]

_NUM = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
_AGENCY = (
    r"(?:新华社|新华网|中新社|中新网|中国新闻网|人民网|央视网|央广网|光明网|中国网|澎湃新闻|本报|本台|央视新闻"
    r"|中央社|法新社|路透社|美联社|大公网|星岛环球网|东方网|经济日报|工人日报|法制日报)"
)
_PLACE = r"[\u4e00-\u9fff]{0,10}?"
_DATELINE = re.compile(
    rf"(?:据|【)?{_AGENCY}\s*{_PLACE}\s*(?:{_NUM}月)?{_NUM}日\s*(?:专电|电|讯|消息)"  # 新华社合肥11月21日电
    rf"|(?:^|(?<=[\s\n(（【]))[\u4e00-\u9fff]{{2,8}}?{_NUM}月{_NUM}日(?:专电|电)"  # 合肥11月21日电 (agency elided)
    rf"|{_AGENCY}\s*{_PLACE}(?=\s*[(（]?记者)"  # 中新网合肥(记者 …)
    r"|本报讯|本报[\u4e00-\u9fff]{2,4}讯|【本报讯】"
)
_BYLINE = re.compile(r"[(（]\s*(?:记者|通讯员|实习生|编辑)[^()（）\n]{0,40}[)）]")


def mask_datelines(text: str) -> str:
    """`text` with datelines and bylines replaced by spaces (the same length)."""
    if "电" not in text and "讯" not in text and "记者" not in text and "网" not in text and "社" not in text:
        return text
    return _BYLINE.sub(_blank, _DATELINE.sub(_blank, text))


def _blank(m: re.Match[str]) -> str:
    return " " * len(m.group(0))
