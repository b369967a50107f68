"""The weekly chart: on-time rate per obligation, this week against the 8 weeks before.

One small panel per obligation, stacked, 1080 px wide, large type: it is read on a
phone in the chat. Drawn on matplotlib's Agg canvas through `Figure` (never pyplot),
so no global state or display is touched.

Chinese labels need a CJK font, and most servers have none. The
`paperang-p2-fonts-cjk` dependency carries WenQuanYi Micro Hei (Apache-2.0); it is
registered with matplotlib's font manager when this module is imported. A CJK font
installed on the system (Noto Sans CJK, Source Han Sans, ...) is used when that
package is missing.
"""

from __future__ import annotations

import io
import logging
from importlib import resources
from pathlib import Path
from typing import Any

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..i18n import Catalogue, catalogue
from .render import obligation_label
from .weekly import CORE_OBLIGATIONS, ObligationFigures, WeeklySummary

__all__ = ["CHART_DPI", "CHART_WIDTH_PX", "CJK_FAMILY", "chart_figure", "chart_size", "render_chart"]

log = logging.getLogger(__name__)

CHART_DPI = 100
CHART_WIDTH_PX = 1080
_PANEL_PX = 230
_HEAD_PX = 190
_FOOT_PX = 70

# Families tried when the bundled package is absent, most common on Linux first.
_SYSTEM_CJK = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "SimHei",
)

# A 0% bar is drawn this high (a visible stub) and any bar under _LABEL_BELOW carries its value.
_MIN_BAR = 0.03
_LABEL_BELOW = 0.15

_GOOD, _FAIR, _POOR, _PAST, _INK, _MUTED = "#2e7d32", "#ef8f00", "#c62828", "#b0bec5", "#212121", "#616161"


def _register_cjk_font() -> str | None:
    """Register the packaged CJK font; return the family name matplotlib knows it by."""
    try:
        fonts = resources.files("paperang_p2_fonts_cjk") / "fonts"
        for entry in fonts.iterdir():
            if entry.name.lower().endswith((".ttc", ".ttf", ".otf")):
                path = Path(str(entry))
                font_manager.fontManager.addfont(str(path))
                return font_manager.FontProperties(fname=str(path)).get_name()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        log.debug("packaged CJK font not available: %s", exc)
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in _SYSTEM_CJK:
        if family in installed:
            return family
    log.warning(catalogue()("log_no_cjk_font"))
    return None


CJK_FAMILY: str | None = _register_cjk_font()


def _colour(rate: float) -> str:
    return _GOOD if rate >= 0.9 else _FAIR if rate >= 0.6 else _POOR


def _headline(o: ObligationFigures | None, rate: float | None, cat: Catalogue) -> tuple[str, str]:
    """The current week's figure at a panel's right, and its colour: the rate with on time / decided,
    or in words when nothing was due or nothing due has been decided yet."""
    if o is None or not o.due:
        return cat("summary_chart_no_due"), _MUTED
    if rate is None:
        return cat("summary_chart_all_open", n=o.due), _MUTED
    return f"{cat('summary_chart_this_week')} {rate * 100:.0f}%  {o.on_time}/{o.decided}", _colour(rate)


def _panels(summary: WeeklySummary) -> list[str]:
    core = [name for name, _, _ in CORE_OBLIGATIONS]
    extra = [
        o.name
        for o in summary.current.obligations
        if o.name not in core
        and (o.decided or any(rates.get(o.name) is not None for _, rates in summary.history))
    ]
    return core + extra


def chart_size(summary: WeeklySummary) -> tuple[int, int]:
    """(width, height) in pixels of the chart for `summary`: one panel per obligation shown."""
    return CHART_WIDTH_PX, _HEAD_PX + _FOOT_PX + _PANEL_PX * len(_panels(summary))


def _panel(
    fig: Figure, bottom: float, panel_h: float, name: str, summary: WeeklySummary, cat: Catalogue
) -> None:
    """One obligation: the last weeks' bars (this week's coloured by its rate), its name and rate."""
    font = _font()
    current = {o.name: o for o in summary.current.obligations}
    short = [label.split("-")[-1] for label, _ in summary.history] + [
        summary.current.week.label.split("-")[-1]
    ]
    ax = fig.add_axes((0.08, bottom + panel_h * 0.22, 0.88, panel_h * 0.52))
    o = current.get(name)
    rates = [rates.get(name) for _, rates in summary.history] + [o.on_time_rate if o else None]
    xs = range(len(rates))
    for x, r in zip(xs, rates, strict=True):
        if r is None:
            ax.text(x, 0.04, "—", ha="center", va="bottom", fontsize=18, color=_MUTED, **font)
            continue
        colour = _colour(r) if x == len(rates) - 1 else _PAST
        ax.bar(x, max(r, _MIN_BAR), width=0.72, color=colour, edgecolor="none")
        if r < _LABEL_BELOW:
            # A bar this low is a sliver: say its value above it, so 0% reads as 0%, not as no data.
            label_colour = colour if x == len(rates) - 1 else _MUTED
            label = f"{r * 100:.0f}%"
            ax.text(
                x,
                max(r, _MIN_BAR) + 0.03,
                label,
                ha="center",
                va="bottom",
                fontsize=17,
                color=label_colour,
                **font,
            )
    ax.set_ylim(0, 1.08)
    ax.set_xlim(-0.6, len(rates) - 0.4)
    ax.set_yticks([0, 0.5, 1.0], ["0", "50%", "100%"], fontsize=17, color=_MUTED)
    ax.set_xticks(list(xs), short, fontsize=19, color=_MUTED)
    ax.get_xticklabels()[-1].set_color(_INK)
    ax.get_xticklabels()[-1].set_fontweight("bold")
    ax.axhline(1.0, color="#e0e0e0", linewidth=1, zorder=0)
    ax.axhline(0.5, color="#eeeeee", linewidth=1, zorder=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)

    head_y = bottom + panel_h * 0.86
    fig.text(0.04, head_y, obligation_label(name, cat), fontsize=28, color=_INK, va="center", **font)
    value, colour = _headline(o, rates[-1], cat)
    fig.text(0.96, head_y, value, fontsize=28, color=colour, ha="right", va="center", **font)


def _font() -> dict[str, Any]:
    return {"family": [CJK_FAMILY, "DejaVu Sans"] if CJK_FAMILY else ["DejaVu Sans"]}


def render_chart(summary: WeeklySummary, lang: str | None = None) -> bytes:
    """The PNG (bytes) of on-time rates: 1080 px wide, one panel per obligation."""
    buf = io.BytesIO()
    chart_figure(summary, lang).savefig(buf, format="png", dpi=CHART_DPI, facecolor="white")
    return buf.getvalue()


def chart_figure(summary: WeeklySummary, lang: str | None = None) -> Figure:
    """The chart as a matplotlib Figure (what `render_chart` saves), for tests that read its texts."""
    cat = catalogue(lang)
    _, height_px = chart_size(summary)
    fig = Figure(figsize=(CHART_WIDTH_PX / CHART_DPI, height_px / CHART_DPI), dpi=CHART_DPI)
    fig.patch.set_facecolor("white")
    font = _font()
    title = cat("summary_chart_title", week=summary.current.week.label)
    fig.text(0.04, 1 - 60 / height_px, title, fontsize=30, color=_INK, va="center", **font)
    # The current week's bar is coloured by how good its rate is; earlier weeks are grey.
    bands = [
        Patch(color=_GOOD, label=cat("summary_chart_band_good")),
        Patch(color=_FAIR, label=cat("summary_chart_band_fair")),
        Patch(color=_POOR, label=cat("summary_chart_band_poor")),
        Patch(color=_PAST, label=cat("summary_chart_earlier")),
    ]
    fig.legend(
        handles=bands,
        loc="center left",
        bbox_to_anchor=(0.025, 1 - 128 / height_px),
        ncol=4,
        frameon=False,
        prop={"family": font["family"], "size": 22},
        handlelength=1.0,
        columnspacing=1.4,
    )
    top, panel_h = 1 - _HEAD_PX / height_px, _PANEL_PX / height_px
    for i, name in enumerate(_panels(summary)):
        _panel(fig, top - (i + 1) * panel_h, panel_h, name, summary, cat)
    footer = cat("summary_chart_footer", tz=summary.current.week.tz)
    fig.text(0.04, _FOOT_PX / 2 / height_px, footer, fontsize=18, color=_MUTED, va="center", **font)
    return fig
