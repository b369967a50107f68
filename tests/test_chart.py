"""The weekly chart: a real CJK font is used, no glyph is missing, the PNG has the phone-friendly size."""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
from kit.report_history import NOW, build
from matplotlib import font_manager
from PIL import Image
from sqlalchemy.engine import Engine

from responder.reports.chart import CHART_WIDTH_PX, CJK_FAMILY, chart_figure, chart_size, render_chart
from responder.reports.weekly import WeeklySummary, compute_weekly


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build(tmp_path_factory.mktemp("chart") / "t.db")


@pytest.fixture(scope="module")
def w47(engine: Engine) -> WeeklySummary:
    return compute_weekly(engine, "2026-W47", now=NOW)


def test_the_cjk_font_is_found_by_matplotlib() -> None:
    assert CJK_FAMILY is not None
    path = font_manager.findfont(font_manager.FontProperties(family=CJK_FAMILY), fallback_to_default=False)
    assert "DejaVu" not in Path(path).name
    # The font really holds the characters the labels use.
    from matplotlib.ft2font import FT2Font

    font = FT2Font(path)
    for ch in "权威信息发布新闻会按时率本周前":
        assert font.get_char_index(ord(ch)) != 0, ch


def test_chart_renders_without_missing_glyphs(w47: WeeklySummary, caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        png = render_chart(w47, lang="zh")
    missing = [
        str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)
    ]
    assert missing == []
    assert not [r for r in caplog.records if "findfont" in r.getMessage()]
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    # 1080 px wide (a phone screen's width), one 230 px panel per obligation shown.
    assert image.size == chart_size(w47) == (CHART_WIDTH_PX, 190 + 70 + 230 * 7)
    # Not blank: the current week's bars are drawn in the rate colours.
    colours = {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    assert (0xC6, 0x28, 0x28) in colours  # red: statement at 50%
    assert (0x2E, 0x7D, 0x32) in colours  # green: flash at 100%


def test_an_empty_week_still_renders(tmp_path: Path) -> None:
    from responder.db import create_all, make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    create_all(engine)
    summary = compute_weekly(engine, "2026-W47", now=NOW)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = render_chart(summary, lang="zh")
    assert Image.open(io.BytesIO(png)).size == (1080, 190 + 70 + 230 * 6)
    # Each panel says plainly that nothing was due: no "本周 本周无到期 0/0".
    texts = [t.get_text() for t in chart_figure(summary, lang="zh").texts]
    assert texts.count("本周无到期") == 6
    assert not [t for t in texts if "0/0" in t or t.count("本周") > 1]


def _with_statement(w47: WeeklySummary, **figures: int) -> WeeklySummary:
    """w47 with the current week's statement figures replaced."""
    obligations = [replace(o, **figures) if o.name == "statement" else o for o in w47.current.obligations]
    return replace(w47, current=replace(w47.current, obligations=obligations))


def _headline(fig, label: str) -> str:  # type: ignore[no-untyped-def]
    texts = [t for t in fig.texts]
    title = next(t for t in texts if t.get_text() == label)
    return next(
        t.get_text() for t in texts if t is not title and t.get_position()[1] == title.get_position()[1]
    )


def test_a_zero_rate_is_drawn_and_labelled(w47: WeeklySummary) -> None:
    zero = _with_statement(w47, due=2, on_time=0, late=1, open=0, overdue=1)
    fig = chart_figure(zero, lang="zh")
    assert _headline(fig, "权威信息发布") == "本周 0%  0/2"
    statement_axes = fig.axes[0]
    current_bar = statement_axes.patches[-1]
    assert current_bar.get_height() >= 0.03  # a visible stub, not a 1-pixel sliver
    assert "0%" in [t.get_text() for t in statement_axes.texts]
    # In the picture: the red of a poor rate is there although the rate is zero.
    image = Image.open(io.BytesIO(render_chart(zero, lang="zh"))).convert("RGB")
    top_panel = image.crop((0, 190, 1080, 190 + 230))
    assert (0xC6, 0x28, 0x28) in {c for _, c in top_panel.getcolors(maxcolors=1 << 20)}


def test_a_week_with_only_open_obligations_says_so(w47: WeeklySummary) -> None:
    waiting = _with_statement(w47, due=3, on_time=0, late=0, open=3, overdue=0)
    assert _headline(chart_figure(waiting, lang="zh"), "权威信息发布") == "本周 3 项均未到期"
    assert _headline(chart_figure(w47, lang="zh"), "权威信息发布") == "本周 50%  1/2"


def test_chart_for_the_eye(w47: WeeklySummary, tmp_path: Path) -> None:
    """Writes the PNG for a person to look at (path printed with -s); both languages render."""
    for lang in ("zh", "en"):
        out = tmp_path / f"weekly-{lang}.png"
        out.write_bytes(render_chart(w47, lang=lang))
        print(out)
        assert out.stat().st_size > 20_000
