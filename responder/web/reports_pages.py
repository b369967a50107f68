"""The ledger (台账) page and its .xlsx export, the weekly summary with its chart, the annual figures.

The figures are those of `responder/reports/` (the same functions as `python main.py summary`
and `report annual`), computed from the records each time a page is asked for.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..i18n import t
from ..playbook import report_obligations
from ..present.formats import format_span, kind_label
from ..reports.chart import render_chart
from ..reports.figures import GRADES_GRAVEST_FIRST
from ..reports.render import channel_label, obligation_label
from ..reports.weekly import IsoWeek, compute_weekly
from .app import Console, route
from .ledger import GRADE_NONE, KINDS, STATUSES, TIMELINESS, LedgerFilter, load_ledger
from .links import base_url
from .present import status_label, timeliness_label
from .xlsx import ledger_xlsx

__all__ = ["routes"]


def _console(request: Request) -> Console:
    console: Console = request.app.state.console  # set by build_app
    return console


def _filter(request: Request, console: Console) -> LedgerFilter:
    today = console.clock().astimezone(console.tz).date()
    try:
        return LedgerFilter.from_query(request.query_params, today)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


async def ledger(request: Request) -> Response:
    """Every incident and obligation of a period, filtered, with a link to the same rows as .xlsx."""
    console = _console(request)
    f = _filter(request, console)
    rows = await console.db(load_ledger, console.engine, f, console.tz, console.clock())
    options = {
        "grade": [(str(g), str(g)) for g in GRADES_GRAVEST_FIRST] + [(GRADE_NONE, t("grade_unknown"))],
        "kind": [(str(k), kind_label(k)) for k in KINDS],
        "status": [(str(s), status_label(s)) for s in STATUSES],
        "timeliness": [(x, timeliness_label(x)) for x in TIMELINESS],
    }
    export = console.link("/ledger.xlsx") + "?" + urlencode(f.query())
    context = {"f": f, "rows": rows, "options": options, "export": export}
    return await console.page(request, "ledger.html", context)


async def ledger_export(request: Request) -> Response:
    """The same rows as the ledger page, as an .xlsx download."""
    console = _console(request)
    f = _filter(request, console)
    now = console.clock()
    rows = await console.db(load_ledger, console.engine, f, console.tz, now)
    pattern = base_url(console.settings.feeds.web, console.port) + "/incidents/{id}"
    body = await console.db(ledger_xlsx, rows, f, console.tz, now, incident_url=pattern)
    name = t("web_xlsx_filename", start=f.start.isoformat(), end=f.end.isoformat())
    disposition = f"attachment; filename=\"ledger-{f.start}-{f.end}.xlsx\"; filename*=UTF-8''{quote(name)}"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": disposition},
    )


def _week(request: Request, console: Console, now: datetime) -> IsoWeek:
    text = request.query_params.get("week") or request.path_params.get("week")
    if not text:
        return IsoWeek.containing(now, console.tz).shift(-1)  # the last complete week
    try:
        return IsoWeek.parse(text)
    except ValueError:
        raise HTTPException(400, t("web_bad_week", week=text)) from None


async def weekly(request: Request) -> Response:
    """The weekly timeliness summary of one ISO week, with its chart."""
    console = _console(request)
    now = console.clock()
    week = _week(request, console, now)
    obligations = report_obligations(console.settings.playbooks)
    summary = await console.db(
        compute_weekly, console.engine, week, console.tz, now=now, obligations=obligations
    )
    prev = {o.name: o for o in summary.previous.obligations}
    context = {
        "s": summary,
        "week": week,
        "prev": prev,
        "older": week.shift(-1).label,
        "newer": week.shift(1).label,
        "ob_label": obligation_label,
        "channel_label": channel_label,
        "span": format_span,
        "grades": GRADES_GRAVEST_FIRST,
    }
    return await console.page(request, "weekly.html", context)


async def weekly_chart(request: Request) -> Response:
    """The week's on-time chart (PNG), as the Monday post carries it."""
    console = _console(request)
    now = console.clock()
    week = _week(request, console, now)

    obligations = report_obligations(console.settings.playbooks)

    def draw() -> bytes:
        return render_chart(
            compute_weekly(console.engine, week, console.tz, now=now, obligations=obligations)
        )

    return Response(await console.db(draw), media_type="image/png")


async def annual(request: Request) -> Response:
    """Section 二、回应解读情况 of the annual disclosure report, counted from the records."""
    from ..reports.annual import compute_annual

    console = _console(request)
    now = console.clock()
    this_year = now.astimezone(console.tz).year
    try:
        year = int(request.query_params.get("year") or this_year)
        obligations = report_obligations(console.settings.playbooks)
        figures = await console.db(
            compute_annual, console.engine, year, console.tz, now=now, obligations=obligations
        )
    except ValueError:
        raise HTTPException(400, t("web_bad_year", year=request.query_params.get("year", ""))) from None
    years = list(range(this_year, this_year - 6, -1))
    return await console.page(request, "annual.html", {"a": figures, "year": year, "years": years})


def routes() -> list[Route]:
    """Ledger and report routes (behind the gate)."""
    return [
        route("/ledger", ledger),
        route("/ledger.xlsx", ledger_export),
        route("/reports/weekly", weekly),
        route("/reports/weekly/{week}.png", weekly_chart),
        route("/reports/annual", annual),
    ]
