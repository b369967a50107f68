"""Next year's calendar while the service runs (the service's calendar job, every minute):

- from 60 days before a year whose holidays the calendar does not know, one message to the
  admins (`workcal.unknown_year_warning`);
- when the State Council's notice (国务院办公厅关于20XX年部分节假日安排的通知) has come in on
  any feed, its holidays and make-up workdays are read from the stored item's text, or, when
  the feed carried only the title or an excerpt, from the linked page fetched with the feeds'
  own bounded fetcher; the dates are stored as a `HolidayOffer` and offered to the admins in
  one message (a notice that cannot be read is named to them with its address instead);
- an admin confirms with `/calendar_confirm 2027` (`confirm_holidays`): the year goes into the
  schedule file, as `calendar import --confirm` writes it, and the running calendar counts
  with it at once;
- the schedule file is watched: a year confirmed from the command line, or the file copied
  from another host, is taken up within a minute without a reload (a broken file is logged
  and the calendar stays as it was).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from ..calendar_import import schedule_path, store_schedule
from ..channels.robots import Destination
from ..configfile import ConfigError
from ..db import insert_ignore, session_scope
from ..feeds.fetch import Fetcher, Validators
from ..holiday_notice import HolidayNotice, NoticeError, notice_year, parse_notice
from ..i18n import t
from ..models import HolidayOffer, Report
from ..policy import keys
from ..present import calendar as words
from ..runtime import Settings
from ..text import html_to_text
from ..vocab import Role
from ..workcal import load_schedules, unknown_year_warning
from .outbox import queue

__all__ = ["CalendarStats", "CalendarWatch", "ConfirmError", "calendar_job", "confirm_holidays"]

log = logging.getLogger(__name__)

# The notice appears in October or November; a copy older than this is not looked at again.
_NOTICE_WINDOW = timedelta(days=120)
# Later runs look only at items stored since the last run (less this, for other instances' clocks).
_LOOK_BACK_SLACK = timedelta(minutes=10)
# A page that could not be fetched is tried again on the next runs before the admins are told.
_FETCH_TRIES = 5
_TITLE_WORDS = ("节假日安排", "節假日安排")


@dataclass
class CalendarWatch:
    """What one running service remembers between calendar jobs (a restart forgets it: the
    records make a second look harmless, at the cost of fetching a notice page again)."""

    schedule_stamp: tuple[int, int] | None  # (mtime_ns, size) of the schedule file as last read
    examined: set[int] = field(default_factory=set)  # report ids already read
    fetch_failures: dict[int, int] = field(default_factory=dict)  # report id → failed page fetches
    looked_until: datetime | None = None  # the last run's `now`

    @classmethod
    def of(cls, settings: Settings) -> CalendarWatch:
        """The watch of a service starting on `settings` (just loaded from the schedule file)."""
        return cls(_stamp(schedule_path(settings)))


@dataclass
class CalendarStats:
    """What one calendar job did."""

    warned: int = 0
    offered: int = 0
    unreadable: int = 0
    adopted: bool = False


@dataclass(frozen=True)
class _Candidate:
    report_id: int
    year: int
    title: str
    link: str | None
    text: str


class ConfirmError(Exception):
    """A confirmation that cannot be made; the message says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _admins(settings: Settings) -> list[Destination]:
    # The admins' Telegram chat and group robots (a roster may have either or both).
    return settings.roster.destinations_for_role(Role.ADMIN)


async def calendar_job(
    engine: Engine, settings: Settings, fetcher: Fetcher, now: datetime, watch: CalendarWatch
) -> CalendarStats:
    """One run: take up a changed schedule file, warn of an unknown year, offer new notices."""
    stats = CalendarStats()
    stats.adopted = reread_schedule_file(settings, watch)
    with session_scope(engine) as s:
        stats.warned = _warn_unknown_year(s, settings, now)
    found: list[tuple[_Candidate, HolidayNotice | None, str]] = []
    for c in _candidates(engine, settings, now, watch):
        notice, reason, transient = await _read(c, fetcher)
        if transient and watch.fetch_failures.get(c.report_id, 0) + 1 < _FETCH_TRIES:
            watch.fetch_failures[c.report_id] = watch.fetch_failures.get(c.report_id, 0) + 1
            continue  # the page did not answer: try again on the next run
        found.append((c, notice, reason))
    with session_scope(engine) as s:
        for c, notice, _ in found:
            if notice is not None:
                stats.offered += _offer(s, settings, c, notice, now)
        offered_years = set(s.exec(select(HolidayOffer.year)).all())
        for c, notice, reason in found:
            if notice is None and c.year not in offered_years:
                stats.unreadable += _unreadable(s, settings, c, reason, now)
    watch.examined.update(c.report_id for c, _, _ in found)
    return stats


def _warn_unknown_year(s: Session, settings: Settings, now: datetime) -> int:
    warning = unknown_year_warning(settings.calendar, now)
    if warning is None:
        return 0
    return queue(s, warning.key, _admins(settings), words.unknown_year(warning), now)


def _candidates(engine: Engine, settings: Settings, now: datetime, watch: CalendarWatch) -> list[_Candidate]:
    """Stored items titled as the notice for a year not known yet (this year or later), not read before."""
    this_year = settings.calendar.local_date(now).year
    since = now - _NOTICE_WINDOW
    if watch.looked_until is not None:
        since = max(since, watch.looked_until - _LOOK_BACK_SLACK)
    retry = list(watch.fetch_failures)
    watch.looked_until = now
    with Session(engine) as s:
        recent = col(Report.fetched_at) >= since
        rows = s.exec(
            select(Report.id, Report.title, Report.link, Report.text)
            .where(or_(recent, col(Report.id).in_(retry)) if retry else recent)
            .where(or_(*(col(Report.title).contains(w) for w in _TITLE_WORDS)))
            .order_by(col(Report.id))
        ).all()
    out = []
    for rid, title, link, text in rows:
        year = notice_year(title)
        if rid in watch.examined or year is None:
            continue
        if year < this_year or settings.calendar.knows_year(year):
            watch.examined.add(rid)
            continue
        out.append(_Candidate(rid, year, title, link, text))
    return out


def _parse(text: str, year: int) -> tuple[HolidayNotice | None, str]:
    try:
        notice = parse_notice(text)
    except NoticeError as exc:
        return None, str(exc)
    if notice.year != year:
        return None, t("holiday_notice_other_year", year=notice.year)
    return notice, ""


async def _read(c: _Candidate, fetcher: Fetcher) -> tuple[HolidayNotice | None, str, bool]:
    """The notice from the item's own text, else from the page it links to (bounded like a
    feed); with the reason it could not be read, and whether that may pass (the page did not answer)."""
    notice, reason = _parse(c.text, c.year)
    if notice is not None or not c.link or urlsplit(c.link).scheme not in ("http", "https"):
        return notice, reason, False
    page = await fetcher.fetch(c.link, Validators())
    if page.text is None:
        return None, page.error or reason, page.status == "error"
    return (*_parse(html_to_text(page.text), c.year), False)


def _digest(holidays: Sequence[date], workdays: Sequence[date]) -> str:
    listed = ",".join(d.isoformat() for d in holidays) + ";" + ",".join(d.isoformat() for d in workdays)
    return hashlib.sha256(listed.encode("ascii")).hexdigest()[:16]


def _offer(s: Session, settings: Settings, c: _Candidate, notice: HolidayNotice, now: datetime) -> int:
    """Store the dates as an offer and tell the admins, once per year and set of dates."""
    digest = _digest(notice.holidays, notice.workdays)
    row = HolidayOffer(
        year=notice.year,
        digest=digest,
        holidays=[d.isoformat() for d in notice.holidays],
        workdays=[d.isoformat() for d in notice.workdays],
        warnings=list(notice.warnings),
        title=c.title,
        link=c.link,
        report_id=c.report_id,
        offered_at=now,
    )
    if not insert_ignore(s, row, ["year", "digest"]):
        return 0
    totals = (len(notice.holidays), len(notice.workdays))
    text = words.holiday_offer(notice.year, c.title, c.link, notice.festivals, notice.warnings, totals)
    queue(s, keys.holiday_offer(notice.year, digest), _admins(settings), text, now)
    log.info(t("log_holiday_offered", year=notice.year, link=c.link or c.title))
    return 1


def _unreadable(s: Session, settings: Settings, c: _Candidate, reason: str, now: datetime) -> int:
    text = words.holiday_unreadable(c.year, c.title, c.link, reason)
    log.warning(t("log_holiday_unreadable", year=c.year, link=c.link or c.title, reason=reason))
    return queue(s, keys.holiday_unreadable(c.year, c.report_id), _admins(settings), text, now)


# --------------------------------------------------------------------------- the schedule file


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def reread_schedule_file(settings: Settings, watch: CalendarWatch) -> bool:
    """Take up the schedule file when it changed since the last look; True when the calendar changed.

    A file with problems is logged once and leaves the calendar as it was.
    """
    path = schedule_path(settings)
    stamp = _stamp(path)
    if stamp == watch.schedule_stamp:
        return False
    watch.schedule_stamp = stamp
    try:
        schedules = load_schedules(path)
    except ConfigError as exc:
        log.error(t("log_schedule_broken", path=path, problems="; ".join(str(p) for p in exc.problems)))
        return False
    settings.calendar.adopt(settings.roster.calendar.build(settings.roster.tz, schedules))
    years = "、".join(map(str, sorted(schedules.years))) or "—"
    log.info(t("log_schedule_reread", path=path, years=years))
    return True


# --------------------------------------------------------------------------- confirming


def confirm_holidays(
    s: Session, settings: Settings, year: int | None, who: str, now: datetime, reply_chat: int | None = None
) -> str:
    """Confirm the newest unconfirmed offer (of `year`, when given): write it into the schedule
    file, have the running calendar count with it, tell the admins (in other chats than
    `reply_chat`, where the returned confirmation is the answer).

    Raises ConfirmError when there is nothing to confirm, or the notice failed its own checks
    (then an admin reviews it with `calendar import … --confirm --force`).
    """
    q = select(HolidayOffer).where(col(HolidayOffer.confirmed_at).is_(None))
    if year is not None:
        q = q.where(HolidayOffer.year == year)
    offer = s.exec(q.order_by(col(HolidayOffer.offered_at).desc(), col(HolidayOffer.id).desc())).first()
    if offer is None:
        if year is not None and settings.calendar.knows_year(year):
            raise ConfirmError(t("holiday_confirm_known", year=year))
        raise ConfirmError(t("holiday_confirm_none", year=year or "—"))
    if offer.warnings:
        raise ConfirmError(t("holiday_confirm_warnings", year=offer.year, link=offer.link or "URL"))
    holidays = [date.fromisoformat(d) for d in offer.holidays]
    workdays = [date.fromisoformat(d) for d in offer.workdays]
    try:
        path = store_schedule(settings, offer.year, holidays, workdays, offer.link or offer.title, who, now)
        schedules = load_schedules(path)
    except ConfigError as exc:
        raise ConfirmError(t("holiday_confirm_file_broken", problems=str(exc.problems[0]))) from None
    except OSError as exc:  # a read-only folder (systemd's ProtectSystem), a full disk
        where = exc.filename or schedule_path(settings)
        raise ConfirmError(t("holiday_confirm_unwritable", path=where, error=exc.strerror or exc)) from None
    settings.calendar.adopt(settings.roster.calendar.build(settings.roster.tz, schedules))
    offer.confirmed_at, offer.confirmed_by = now, who
    s.add(offer)
    text = words.holiday_confirmed(offer.year, who, len(holidays), len(workdays), str(path))
    others = [chat for chat in settings.roster.chats_for_role(Role.ADMIN) if chat != reply_chat]
    queue(s, keys.holiday_confirmed(offer.year, offer.id), others, text, now)
    log.info(t("log_holiday_confirmed", year=offer.year, who=who, path=path))
    return text
