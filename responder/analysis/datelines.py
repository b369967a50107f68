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
# A newspaper, site or app by its name (合肥晚报, 安徽网, 中安在线, 大皖客户端), not an authority's
# notice (安徽省应急管理厅, 淮南市政府网站: where the authority is says where the accident is).
_OUTLET = (
    r"(?:(?!政府|应急|管理|厅|局|委员会|办公室)[\u4e00-\u9fffA-Za-z]){1,8}?"
    r"(?:日报|晚报|晨报|商报|早报|都市报|时报|星报|报|网|电视台|在线|新闻|客户端)"
)
_DATELINE = re.compile(
    rf"(?:据|【)?{_AGENCY}\s*{_PLACE}\s*(?:{_NUM}月)?{_NUM}日\s*(?:专电|电|讯|消息)"  # 新华社合肥11月21日电
    rf"|(?:^|(?<=[\s\n(（【]))[\u4e00-\u9fff]{{2,8}}?{_NUM}月{_NUM}日(?:专电|电)"  # 合肥11月21日电 (agency elided)
    rf"|{_AGENCY}\s*{_PLACE}(?=\s*[(（]?记者)"  # 中新网合肥(记者 …)
    r"|本报讯|本报[\u4e00-\u9fff]{2,4}讯|【本报讯】"
    # 合肥晚报讯, 新安晚报 安徽网 大皖客户端讯, 市场星报、安徽财经网讯: the outlets that carry it
    rf"|(?:^|(?<=[\s\n(（【]))(?:{_OUTLET}(?:[(（][\w.]{{1,20}}[)）])?[、,， ]*){{1,4}}(?:[\u4e00-\u9fff]{{2,6}}?)?讯"
    rf"|据{_OUTLET}(?:报道|消息|讯)"  # 据安徽日报报道
    rf"|来源[:：]\s*{_OUTLET}(?=\s*$)"  # 来源:安徽商报 (at the end)
)
# (记者 王某), (合肥晚报 记者 王某), (宛某 记者 张某)
_BYLINE = re.compile(r"[(（][^()（）\n]{0,12}?(?:记者|通讯员|实习生|编辑)[^()（）\n]{0,40}[)）]")


def mask_datelines(text: str) -> str:
    """`text` with datelines and bylines replaced by spaces (the same length)."""
    if not any(w in text for w in ("电", "讯", "记者", "网", "社", "报", "来源")):
        return text
    return _BYLINE.sub(_blank, _DATELINE.sub(_blank, text))


def _blank(m: re.Match[str]) -> str:
    return " " * len(m.group(0))
