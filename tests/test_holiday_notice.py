"""Next year's calendar: the State Council's notice read from its text, reviewed, confirmed, used.

The 2024, 2025 and 2026 notices in tests/data/holiday_notices/ are the real texts (with
their source addresses); the expected dates below are written out from them by hand, and
the chinese_calendar package, which knows those years, is a second witness.
"""

from __future__ import annotations

import shlex
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import opencc
import pytest
from kit.enginekit import ROSTER, write_config
from kit.feedserver import FeedServer

from responder.cli import main
from responder.holiday_notice import NoticeError, notice_year, parse_notice
from responder.i18n import use_language
from responder.present.calendar import unknown_year
from responder.runtime import load_settings
from responder.workcal import WorkCalendar, package_years, unknown_year_warning

NOTICES = Path(__file__).parent / "data" / "holiday_notices"
SH = ZoneInfo("Asia/Shanghai")


def d(text: str) -> date:
    return date.fromisoformat(text)


def span(first: str, last: str) -> list[date]:
    a, b = d(first), d(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


EXPECTED = {
    2024: {
        "元旦": (["2024-01-01"], []),
        "春节": (span("2024-02-10", "2024-02-17"), ["2024-02-04", "2024-02-18"]),
        "清明节": (span("2024-04-04", "2024-04-06"), ["2024-04-07"]),
        "劳动节": (span("2024-05-01", "2024-05-05"), ["2024-04-28", "2024-05-11"]),
        "端午节": (["2024-06-10"], []),
        "中秋节": (span("2024-09-15", "2024-09-17"), ["2024-09-14"]),
        "国庆节": (span("2024-10-01", "2024-10-07"), ["2024-09-29", "2024-10-12"]),
    },
    2025: {
        "元旦": (["2025-01-01"], []),
        "春节": (span("2025-01-28", "2025-02-04"), ["2025-01-26", "2025-02-08"]),
        "清明节": (span("2025-04-04", "2025-04-06"), []),
        "劳动节": (span("2025-05-01", "2025-05-05"), ["2025-04-27"]),
        "端午节": (span("2025-05-31", "2025-06-02"), []),
        "国庆节、中秋节": (span("2025-10-01", "2025-10-08"), ["2025-09-28", "2025-10-11"]),
    },
    2026: {
        "元旦": (span("2026-01-01", "2026-01-03"), ["2026-01-04"]),
        "春节": (span("2026-02-15", "2026-02-23"), ["2026-02-14", "2026-02-28"]),
        "清明节": (span("2026-04-04", "2026-04-06"), []),
        "劳动节": (span("2026-05-01", "2026-05-05"), ["2026-05-09"]),
        "端午节": (span("2026-06-19", "2026-06-21"), []),
        "中秋节": (span("2026-09-25", "2026-09-27"), []),
        "国庆节": (span("2026-10-01", "2026-10-07"), ["2026-09-20", "2026-10-10"]),
    },
}


def _read(year: int) -> str:
    return (NOTICES / f"{year}.txt").read_text(encoding="utf-8")


def _as_dates(xs: list) -> tuple[date, ...]:  # type: ignore[type-arg]
    return tuple(x if isinstance(x, date) else d(x) for x in xs)


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_the_real_notices_are_read_festival_by_festival(year: int) -> None:
    notice = parse_notice(_read(year))
    assert notice.year == year and notice.warnings == ()
    got = {f.name: (f.holidays, f.workdays) for f in notice.festivals}
    assert got == {name: (_as_dates(h), _as_dates(w)) for name, (h, w) in EXPECTED[year].items()}
    # "鼓励…安排职工在除夕(2月9日)休息" (2024) is advice, not a day off.
    assert d("2024-02-09") not in notice.holidays


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_the_notices_agree_with_the_package_day_by_day(year: int) -> None:
    notice = parse_notice(_read(year))
    cal = WorkCalendar(SH, notice.holidays, notice.workdays, confirmed_years=[year])
    first = date(year, 1, 1)
    for i in range(365):
        day = first + timedelta(days=i)
        assert (day in notice.workdays or (day.weekday() < 5 and day not in notice.holidays)) == bool(
            chinese_calendar.is_workday(day)
        ), day
    assert cal.is_workday(d(f"{year}-10-08")) == chinese_calendar.is_workday(d(f"{year}-10-08"))


def test_full_width_punctuation_and_traditional_characters_read_the_same() -> None:
    text = _read(2026)
    full_width = text.translate(str.maketrans({":": "：", "(": "（", ")": "）", ",": "，"}))
    traditional = opencc.OpenCC("s2t").convert(full_width)
    assert "國務院辦公廳" in traditional
    expected = parse_notice(text)
    for variant in (full_width, traditional):
        again = parse_notice(variant)
        assert (again.year, again.holidays, again.workdays) == (2026, expected.holidays, expected.workdays)


def test_a_notice_that_contradicts_itself_is_flagged() -> None:
    wrong = (
        _read(2026)
        .replace("5月9日(周六)上班", "5月8日(周六)上班")
        .replace("放假调休,共9天", "放假调休,共8天")
    )
    notice = parse_notice(wrong)
    assert any("2026-05-08" in w and "周六" in w for w in notice.warnings), notice.warnings
    assert any("春节" in w and "8" in w and "9" in w for w in notice.warnings), notice.warnings
    # The weekday the calendar gives is named as the notice names them, not as a number.
    assert "2026-05-08 在通知中写作周六，按日历实际是星期五，请核对年份和日期。" in notice.warnings
    assert "2026-05-08 是星期五（本来就是工作日），通知却写明调休上班，请核对。" in notice.warnings
    use_language("en")
    try:
        english = parse_notice(wrong).warnings
    finally:
        use_language("zh")
    assert (
        "2026-05-08 is written as 周六 in the notice but is a Friday; check the year and the date." in english
    )


@pytest.mark.parametrize(
    "text",
    [
        "国务院关于印发《数字乡村建设行动方案》的通知",
        "国务院办公厅关于2027年部分节假日安排的通知\n全文稍后发布。",
    ],
)
def test_what_is_not_a_readable_notice_says_so(text: str) -> None:
    with pytest.raises(NoticeError):
        parse_notice(text)


def test_the_notice_title_is_recognised_on_a_feed() -> None:
    assert notice_year("国务院办公厅关于2027年部分节假日安排的通知") == 2027
    assert notice_year("國務院辦公廳關於2027年部分節假日安排的通知") == 2027
    assert notice_year("受权发布丨国务院办公厅关于2027年部分节假日安排的通知") == 2027
    assert notice_year("国务院办公厅关于进一步加强危险化学品安全生产工作的意见") is None
    assert notice_year("某市关于2027年部分节假日安排的通知") is None


# --------------------------------------------------------------------------- review, confirm, use

# An invented notice for 2027, in the real notices' form (the real one is not out as this is
# written); 2027's Spring Festival eve is Friday 5 February.
NOTICE_2027 = """国务院办公厅关于2027年部分节假日安排的通知
各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
经国务院批准，现将2027年元旦、春节、清明节、劳动节、端午节、中秋节和国庆节放假调休日期的具体安排通知如下。
一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月5日（农历除夕、周五）至13日（农历正月初八、周六）放假调休，共9天。2月14日（周日）、2月20日（周六）上班。
三、清明节：4月3日（周六）至5日（周一）放假，共3天。
四、劳动节：5月1日（周六）至5日（周三）放假调休，共5天。4月25日（周日）、5月8日（周六）上班。
五、端午节：6月9日（周三）放假1天，不调休。
六、中秋节：9月15日（周三）放假1天，不调休。
七、国庆节：10月1日（周五）至7日（周四）放假调休，共7天。9月26日（周日）、10月9日（周六）上班。
节假日期间，各地区、各部门要妥善安排好值班和安全、保卫、疫情防控等工作。
国务院办公厅
2026年11月4日
"""


def test_import_shows_the_dates_and_stores_nothing_until_confirmed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], feed_server: FeedServer
) -> None:
    if 2027 in package_years():
        pytest.skip("the installed chinese_calendar knows 2027: this invented 2027 notice has nothing to add")
    cfg = write_config(tmp_path, "  - name: 新闻\n    url: feeds/x.xml\n")
    page = f"<html><body><h1>通知</h1><p>{NOTICE_2027.replace(chr(10), '</p><p>')}</p></body></html>"
    feed_server.route("/notice.html", page.encode("utf-8"), content_type="text/html; charset=utf-8")
    source = feed_server.url("/notice.html")

    assert main(["calendar", "import", source, "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "2027 年节假日安排" in out
    assert "春节：2月5日（周五）至2月13日（周六）放假，共 9 天" in out
    assert "调休上班：2月14日（周日）、2月20日（周六）" in out
    assert "核对：通知中写明的星期几和天数与读出的日期一致" in out
    assert "--confirm" in out and not (tmp_path / "holidays.yaml").exists()
    before = load_settings(cfg).calendar
    assert not before.knows_year(2027)

    assert main(["calendar", "import", source, "--config", str(cfg), "--confirm", "--by", "孙八"]) == 0
    assert "已保存 2027 年安排" in capsys.readouterr().out
    stored = (tmp_path / "holidays.yaml").read_text(encoding="utf-8")
    assert "2027:" in stored and "confirmed_by: 孙八" in stored and source in stored

    cal = load_settings(cfg).calendar
    assert cal.knows_year(2027) and "2027 年已由管理员据国务院办公厅通知确认" in cal.describe_years()
    # A repost received on the last working day of 2026 is due after the New Year break, not on
    # New Year's Day; one received the day before 除夕 is due on the make-up Sunday, not on 除夕.
    due = before.add_working_days(datetime(2026, 12, 31, 10, tzinfo=SH), 1)
    assert due == datetime(2027, 1, 2, 0, 0, tzinfo=SH)  # package alone: 1 January counted as a workday
    assert cal.add_working_days(datetime(2026, 12, 31, 10, tzinfo=SH), 1) == datetime(2027, 1, 5, tzinfo=SH)
    assert before.add_working_days(datetime(2027, 2, 4, 10, tzinfo=SH), 1) == datetime(2027, 2, 6, tzinfo=SH)
    assert cal.add_working_days(datetime(2027, 2, 4, 10, tzinfo=SH), 1) == datetime(2027, 2, 15, tzinfo=SH)


def test_a_notice_with_failed_checks_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, "  - name: 新闻\n    url: feeds/x.xml\n")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(NOTICE_2027.replace("2月20日（周六）", "2月19日（周六）"), encoding="utf-8")
    assert main(["calendar", "import", str(wrong), "--config", str(cfg), "--confirm"]) == 2
    captured = capsys.readouterr()
    assert "2027-02-19" in captured.out and "未保存" in captured.err
    assert not (tmp_path / "holidays.yaml").exists()


def test_following_the_suggested_command_stores_beside_the_same_roster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review ends with the command that confirms; typed as shown, from where the review ran,
    it keeps the --config (and --by), so the schedule goes beside that configuration's roster,
    not beside ./feeds.yaml's. The file it writes says the service takes it up by itself."""
    conf = tmp_path / "conf"
    conf.mkdir()
    cfg = write_config(conf, "  - name: 新闻\n    url: feeds/x.xml\n")
    here = tmp_path / "here"
    here.mkdir()
    write_config(here, "  - name: 新闻\n    url: feeds/x.xml\n")  # ./feeds.yaml: the wrong place
    monkeypatch.chdir(here)
    notice = tmp_path / "2027 通知.txt"
    notice.write_text(NOTICE_2027, encoding="utf-8")
    assert main(["calendar", "import", str(notice), "--config", str(cfg), "--by", "孙八"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    prefix = "以上日期尚未保存。核对无误后运行："
    assert last.startswith(prefix)
    words = shlex.split(last.removeprefix(prefix))
    assert words[:2] == ["python", "main.py"] and "--confirm" in words
    assert main(words[2:]) == 0
    assert not (here / "holidays.yaml").exists()
    stored = (conf / "holidays.yaml").read_text(encoding="utf-8")
    assert "confirmed_by: 孙八" in stored
    assert "takes it up within a minute, no reload needed" in stored and "systemctl reload" not in stored


def test_roster_overrides_win_over_a_confirmed_schedule(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "  - name: 新闻\n    url: feeds/x.xml\n")
    (tmp_path / "notice.txt").write_text(NOTICE_2027, encoding="utf-8")
    assert main(["calendar", "import", str(tmp_path / "notice.txt"), "--config", str(cfg), "--confirm"]) == 0
    # The bureau works 2027-02-14 anyway per the notice; roster.yaml gives it off locally.
    (tmp_path / "roster.yaml").write_text(ROSTER + "calendar:\n  holidays: [2027-02-14]\n", encoding="utf-8")
    cal = load_settings(cfg).calendar
    assert not cal.is_workday(d("2027-02-14")) and cal.is_workday(d("2027-02-20"))


def test_a_broken_schedule_file_is_a_config_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, "  - name: 新闻\n    url: feeds/x.xml\n")
    (tmp_path / "holidays.yaml").write_text(
        "years:\n  2027:\n    holidays:\n      - 2027-01-01\n      - 2026-03-01\n", encoding="utf-8"
    )
    assert main(["check-config", "--config", str(cfg)]) == 2
    assert "holidays.yaml:5: years[2027].holidays[1]: 2027 年的安排中有不属于该年的日期 2026-03-01" in (
        capsys.readouterr().err
    )


# --------------------------------------------------------------------------- knowing the years


def _cal(**kwargs: object) -> WorkCalendar:
    return WorkCalendar(SH, **kwargs)  # type: ignore[arg-type]


# The first year the installed package does not know (2027 as this is written).
NEXT = package_years().stop


def test_the_years_the_calendar_knows() -> None:
    assert _cal().known_years()[-1] == NEXT - 1 and _cal(confirmed_years=[NEXT]).known_years()[-1] == NEXT
    text = _cal(extra_holidays=[date(NEXT, 1, 1)]).describe_years()
    assert text == (
        f"工作日历：2004–{NEXT - 1} 年官方安排（chinese_calendar 软件包）；"
        f"{NEXT} 年仅有 roster.yaml 中的个别日期，不是完整安排"
    )


@pytest.mark.parametrize(
    ("month", "day", "hour", "year_offset", "days"),
    [
        (11, 1, 12, None, None),  # 61 days before 1 January: not yet
        (11, 2, 0, 1, 60),  # 60 days before
        (12, 31, 23, 1, 1),
        (3, 1, 9, 0, -59),  # the year has begun, still unknown (now is in March of NEXT)
    ],
)
def test_the_unknown_year_warning_starts_60_days_before(
    month: int, day: int, hour: int, year_offset: int | None, days: int | None
) -> None:
    now_year = NEXT - 1 if month > 3 else NEXT
    now = datetime(now_year, month, day, hour, tzinfo=SH).astimezone(UTC)
    one_override = _cal(extra_holidays=[date(NEXT, 1, 1)])  # the shipped roster's single date is no schedule
    warning = unknown_year_warning(one_override, now)
    if year_offset is None:
        assert warning is None
        return
    assert warning is not None and (warning.year, warning.days_left) == (NEXT, days)
    assert warning.key == f"calendar:unknown-year:{NEXT}"  # one admin message per year
    text = unknown_year(warning)
    assert "calendar import" in text and f"/calendar_confirm {NEXT}" in text
    assert unknown_year_warning(_cal(confirmed_years=[NEXT]), now) is None


def test_status_and_check_config_show_the_years(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from responder.db import make_engine
    from responder.migrate import upgrade
    from responder.status import render_status

    cfg = write_config(tmp_path, "  - name: 新闻\n    url: feeds/x.xml\n")
    assert main(["check-config", "--config", str(cfg)]) == 0
    assert f"工作日历：2004–{NEXT - 1} 年官方安排" in capsys.readouterr().out
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    cal = load_settings(cfg).calendar
    text = render_status(engine, datetime(NEXT - 1, 11, 30, 9, tzinfo=SH), "Asia/Shanghai", calendar=cal)
    assert f"工作日历：2004–{NEXT - 1} 年官方安排" in text
    assert f"⚠️ 工作日历还不知道 {NEXT} 年的法定节假日和调休安排（32 天后开始" in text
    quiet = render_status(engine, datetime(NEXT - 1, 10, 1, 9, tzinfo=SH), "Asia/Shanghai", calendar=cal)
    assert "还不知道" not in quiet
    engine.dispose()
