"""The ledger as an .xlsx workbook (XlsxWriter), with the columns a press office keeps.

Cells are written by type, never through XlsxWriter's guessing `write()`: a title that
starts with "=" stays text (no formula injection), times are real Excel date-times in the
bureau's zone (Excel has no zones; the second sheet says which), links are hyperlinks
while Excel's limits allow (2,079 characters, 65,530 links a sheet), plain text after.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, tzinfo

import xlsxwriter

from ..i18n import t
from ..present.formats import zone_name
from .ledger import LedgerFilter, LedgerRow
from .present import fmt_dt, grade_text, kind_label, late_label, status_label, step_label_text

__all__ = ["COLUMNS", "ledger_xlsx"]

# (catalogue key of the header, column width in characters)
COLUMNS: tuple[tuple[str, int], ...] = (
    ("web_col_id", 7),
    ("web_col_title", 40),
    ("web_col_kind", 12),
    ("web_col_grade", 9),
    ("web_col_status", 9),
    ("web_col_first_published", 17),
    ("web_col_detected", 17),
    ("web_col_heat", 7),
    ("web_col_step", 22),
    ("web_col_target", 17),
    ("web_col_due", 17),
    ("web_col_done", 17),
    ("web_col_late", 10),
    ("web_col_responsible", 14),
    ("web_col_proof", 30),
    ("web_col_evidence", 40),
    ("web_col_note", 40),
)
MAX_URL = 2079  # Excel's limit on a hyperlink's length
MAX_LINKS = 65530  # and on hyperlinks per worksheet


def _local(at: datetime | None, tz: tzinfo) -> datetime | None:
    return at.astimezone(tz).replace(tzinfo=None) if at is not None else None


class _Sheet:
    """A worksheet with the few typed writers the ledger needs."""

    def __init__(self, book: xlsxwriter.Workbook, name: str):
        self.ws = book.add_worksheet(name)
        self.when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.late = book.add_format({"font_color": "#B00020", "bold": True})
        self.links = 0

    def text(self, r: int, c: int, value: str | None, fmt: object = None) -> None:
        self.ws.write_string(r, c, value or "", fmt)

    def time(self, r: int, c: int, value: datetime | None) -> None:
        if value is None:
            self.ws.write_blank(r, c, None)
        else:
            self.ws.write_datetime(r, c, value, self.when)

    def link(self, r: int, c: int, url: str | None, label: str | None = None) -> None:
        if url and url.startswith(("http://", "https://")) and len(url) <= MAX_URL and self.links < MAX_LINKS:
            self.ws.write_url(r, c, url, string=label or url)
            self.links += 1
        else:
            self.text(r, c, label or url)


def _write_rows(sh: _Sheet, rows: Sequence[LedgerRow], tz: tzinfo, incident_url: str) -> None:
    for r, row in enumerate(rows, start=1):
        inc, st = row.incident, row.step
        sh.ws.write_number(r, 0, inc.id)
        sh.link(r, 1, incident_url.format(id=inc.id) if incident_url else None, inc.title)
        sh.text(r, 2, kind_label(inc.kind))
        sh.text(r, 3, grade_text(inc))
        sh.text(r, 4, status_label(inc.status))
        sh.time(r, 5, _local(inc.first_published, tz))
        sh.time(r, 6, _local(inc.detected_at, tz))
        sh.ws.write_number(r, 7, inc.heat)
        sh.text(r, 8, step_label_text(st) if st else "")
        sh.time(r, 9, _local(st.target_at, tz) if st else None)
        sh.time(r, 10, _local(st.due_at, tz) if st else None)
        sh.time(r, 11, _local(st.done_at, tz) if st else None)
        sh.text(r, 12, late_label(row.timeliness), sh.late if row.timeliness in ("late", "overdue") else None)
        sh.text(r, 13, row.responsible)
        sh.text(r, 14, row.proof, sh.wrap)
        sh.link(r, 15, st.evidence_link if st else None)
        sh.text(r, 16, row.note, sh.wrap)


def ledger_xlsx(
    rows: Sequence[LedgerRow], f: LedgerFilter, tz: tzinfo, now: datetime, *, incident_url: str = ""
) -> bytes:
    """The workbook's bytes: sheet 台账 (header, frozen, filterable) and sheet 说明 (period, zone,
    filters, when made). `incident_url` is a pattern with `{id}` linking each title to its page."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sh = _Sheet(book, t("web_xlsx_sheet"))
    head = book.add_format({"bold": True, "bg_color": "#DDE6F0", "border": 1, "text_wrap": True})
    for c, (key, width) in enumerate(COLUMNS):
        sh.ws.write_string(0, c, t(key), head)
        sh.ws.set_column(c, c, width)
    _write_rows(sh, rows, tz, incident_url)
    sh.ws.freeze_panes(1, 2)
    sh.ws.autofilter(0, 0, max(len(rows), 1), len(COLUMNS) - 1)
    about = book.add_worksheet(t("web_xlsx_about_sheet"))
    about.set_column(0, 0, 16)
    about.set_column(1, 1, 60)
    filters = "；".join(f"{k}={v}" for k, v in f.query().items() if k not in ("start", "end"))
    facts = [
        (t("web_xlsx_period"), f"{f.start.isoformat()} — {f.end.isoformat()}"),
        (t("web_xlsx_timezone"), zone_name(tz)),
        (t("web_xlsx_filters"), filters or t("web_none")),
        (t("web_xlsx_rows"), str(len(rows))),
        (t("web_xlsx_made"), fmt_dt(now, tz)),
    ]
    for r, (label, value) in enumerate(facts):
        about.write_string(r, 0, label)
        about.write_string(r, 1, value)
    book.close()
    return out.getvalue()
