"""The web console in a real browser (Chromium from the OS packages, driven by Playwright) against
the real `python main.py run` process in console mode, with its feeds on 127.0.0.1.

Covers: the printed address and one-time link; sign-in by password and by link (spent once);
the board with live countdowns; an acknowledgement and a completion with evidence, logged with
"web", the person and the address; the .xlsx export read back; the weekly and annual pages;
a phone-width screen; an action refused to a role that may not take it; the gate, CSRF and the
failed-sign-in limit over plain HTTP. Real waits here are bounded waits for another process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from kit.enginekit import ROOT, recent, rss, write_config
from kit.feedserver import FeedServer
from sqlmodel import Session, select

from responder.db import make_engine
from responder.models import Incident, IncidentEvent, Step

CHROMIUM = os.environ.get("RESPONDER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]  # fmt: skip
PASSWORD = "an office password 2026"
EVIDENCE = "https://www.example.gov.cn/xwfb/2026/statement-12.html"
EXPLOSION = "淮南市潘集区一化工厂发生爆炸"
POLICY = "国务院安委会关于加强冬季安全生产工作的通知"


def wait_for(ready: Callable[[], Any], what: str, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := ready()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


@dataclass
class Running:
    base: str
    admin_link: str
    url: str
    env: dict[str, str]
    config: Path
    tmp: Path

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "main.py"), *args, "--config", str(self.config)],
                              env=self.env, input=stdin, capture_output=True, text=True, timeout=60, cwd=self.tmp)  # fmt: skip

    def link_for(self, name: str) -> str:
        done = self.cli("web", "login", name)
        assert done.returncode == 0, done.stderr
        # `web login` knows the configured port only; the service bound port 0.
        return self.base + "/login/" + done.stdout.strip().rsplit("/login/", 1)[1]

    def incident(self, part: str) -> Incident:
        with Session(make_engine(self.url)) as s:
            return next(i for i in s.exec(select(Incident)).all() if part in i.title)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("web")
    published = recent(timedelta(minutes=20))
    with FeedServer() as feeds:
        feeds.route(
            "/n.xml", rss([("https://news.example/e1", EXPLOSION, "事故已造成12人死亡。", published)])
        )
        feeds.route("/g.xml", rss([("https://gov.example/p1", POLICY, "安全生产", published)]))
        sources = (f"  - name: 新闻\n    url: {feeds.url('/n.xml')}\n    interval: 2s\n"
                   f"  - name: 国务院\n    url: {feeds.url('/g.xml')}\n    kind: upstream\n    interval: 2s\n")  # fmt: skip
        config = write_config(tmp, sources, "web:\n  port: 0\n  login_attempts: 3\n")
        url = f"sqlite:///{tmp / 'web.sqlite3'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "RESPONDER_WEB"))}
        env |= {"DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
        subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "migrate"], env=env, check=True, capture_output=True
        )
        log = tmp / "run.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "run", "--config", str(config),
                                     "--cycle-seconds", "0.5"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)  # fmt: skip
            try:
                text = lambda: log.read_text(encoding="utf-8", errors="replace")  # noqa: E731
                found = wait_for(lambda: re.search(r"网页控制台：(http://127\.0\.0\.1:\d+)/", text())
                                 and re.search(r"一次性登录链接（管理员，15分钟内有效.*?）：(\S+)", text()),
                                 "the console's address and sign-in link on the console")  # fmt: skip
                base = re.search(r"网页控制台：(http://127\.0\.0\.1:\d+)/", text()).group(1)  # type: ignore[union-attr]
                running = Running(base, found.group(1), url, env, config, tmp)
                wait_for(lambda: _steps_ready(url), "the explosion and the policy item with their steps")
                yield running
                proc.terminate()
                assert proc.wait(30) == 0, text()[-3000:]
                assert "Traceback" not in text(), text()[-3000:]
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)


def _steps_ready(url: str) -> bool:
    with Session(make_engine(url)) as s:
        titles = {i.title: i.id for i in s.exec(select(Incident)).all()}
        if EXPLOSION not in titles or POLICY not in titles:
            return False
        return len(s.exec(select(Step).where(Step.incident_id == titles[POLICY])).all()) == 4


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: apt-get install chromium (.ci/run installs it)", pytrace=False
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright missing: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _sign_in(page: Any, base: str, name: str, password: str) -> None:
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")  # the gate sends a stranger to the sign-in page
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form.stack button[type=submit]")


def test_password_sign_in_board_ack_done_and_export(service: Running, browser: Any, tmp_path: Path) -> None:
    done = service.cli("web", "passwd", "法规处长", "--stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0 and "法规处长" in done.stdout, done.stderr
    inc = service.incident(EXPLOSION)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    _sign_in(page, service.base, "法规处长", PASSWORD)
    assert page.url == service.base + "/"
    card = page.locator(f"article[data-incident='{inc.id}']")
    assert "重大" in card.inner_text() and EXPLOSION in card.inner_text()
    countdown = card.locator(".countdown").first
    first = countdown.inner_text()
    assert first.startswith("剩余") or first.startswith("已超时")
    page.wait_for_timeout(1500)  # the script counts down in the page (seconds shown under an hour)
    assert re.match(r"^(剩余|已超时) ", countdown.inner_text())
    assert page.locator("table.reposts").inner_text().count("剩余") >= 4  # a countdown per outlet
    assert "新闻" in page.locator("table.feeds").inner_text()

    card.locator("h3 a").click()
    page.click("#form-ack button")
    assert "已确认" in page.locator("#status").inner_text()
    assert "确认" in page.locator(".flash").inner_text()
    page.select_option("#form-done select[name=step]", "statement")
    page.check("#form-done input[name=outlet][value=weibo]")
    page.check("#form-done input[name=outlet][value=wechat]")
    page.fill("#form-done input[name=evidence]", EVIDENCE)
    page.click("#form-done button")
    row = page.locator("tr[data-step='statement']")
    assert "法规处长" in row.inner_text() and row.locator(f"a[href='{EVIDENCE}']").count() == 1
    # Where it was published, in the cards' words, in the step list and on the timeline.
    assert row.locator("td.proof").inner_text() == "发布渠道：政务微博、微信公众号"
    timeline = page.locator("ol.timeline").inner_text()
    assert "事项完成" in timeline and "法规处长（网页，127.0.0.1）" in timeline and EVIDENCE in timeline
    assert "发布渠道：政务微博、微信公众号" in timeline
    # A press conference says whether the head attended (其中：主要负责同志参加 of the annual report).
    page.select_option("#form-done select[name=step]", "press_conference")
    page.select_option("#form-done select[name=head]", "yes")
    page.click("#form-done button")
    conference = page.locator("tr[data-step='press_conference']")
    assert "法规处长" in conference.inner_text()
    assert conference.locator("td.proof").inner_text() == "主要负责同志参加"
    assert "主要负责同志参加" in page.locator("ol.timeline").inner_text()

    with Session(make_engine(service.url)) as s:
        logged = s.exec(select(IncidentEvent).where(IncidentEvent.incident_id == inc.id,
                                                    IncidentEvent.actor_name == "法规处长")).all()  # fmt: skip
    assert sorted(e.kind for e in logged) == ["acknowledged", "step_done", "step_done"]
    assert all(
        e.data["source"] == "web" and e.data["address"] == "127.0.0.1" and e.actor_id == 1002 for e in logged
    )
    statement, conference = sorted((e for e in logged if e.kind == "step_done"), key=lambda e: e.id)
    assert statement.data["outlets"] == ["weibo", "wechat"] and "attended_by_head" not in statement.data
    assert conference.data["attended_by_head"] is True

    page.goto(service.base + "/ledger")
    # The ledger says where each completion was published, as the incident page does.
    ledger_row = page.locator(f"tr[data-incident='{inc.id}'][data-step='statement']")
    assert ledger_row.locator("td.proof").inner_text() == "发布渠道：政务微博、微信公众号"
    ledger_conference = page.locator(f"tr[data-incident='{inc.id}'][data-step='press_conference']")
    assert ledger_conference.locator("td.proof").inner_text() == "主要负责同志参加"
    with page.expect_download() as download:
        page.click("#export")
    path = tmp_path / "ledger.xlsx"
    download.value.save_as(path)
    sheet = openpyxl.load_workbook(path)["台账"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)]
    mine = [r for r in rows if r["编号"] == inc.id]
    assert {r["事项"] for r in mine} >= {"发布权威信息", "举行新闻发布会"}
    statement = next(r for r in mine if r["事项"] == "发布权威信息")
    assert (statement["等级"], statement["责任人"], statement["证据链接"]) == ("重大", "法规处长", EVIDENCE)
    assert statement["是否超时"] == "否（按时）" and isinstance(statement["完成时间"], datetime)
    assert statement["发布情况"] == "发布渠道：政务微博、微信公众号"
    assert any(r["事件"] == POLICY and r["事项"].startswith("转载") for r in rows)

    page.goto(service.base + "/reports/weekly")
    assert "每周时效汇总" in page.locator("h1").inner_text()
    assert page.eval_on_selector("#chart", "img => img.complete && img.naturalWidth") >= 600
    page.goto(service.base + "/reports/annual")
    assert page.locator("tr[data-code=hotspots] td.value").inner_text().isdigit()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=ctx.storage_state())
    small = phone.new_page()
    for path_ in ("/", f"/incidents/{inc.id}", "/ledger"):
        small.goto(service.base + path_)
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path_} scrolls sideways on a phone ({width}px)"
    phone.close()
    ctx.close()


def test_one_time_link_and_a_refused_role(service: Running, browser: Any) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(service.admin_link)  # printed on the console at start (console mode)
    assert "管理员" in page.inner_text("main")
    page.click("#use-link")
    assert page.url == service.base + "/" and "管理员（管理员）" in page.inner_text("header")
    # A number no incident can have is a page that says so, not a server error.
    response = page.goto(f"{service.base}/incidents/123456789012345678901234567890")
    assert response.status == 404 and "123456789012345678901234567890" in page.inner_text("#error")
    again = browser.new_context().new_page()
    response = again.goto(service.admin_link)
    assert response.status == 410 and "无效" in again.inner_text("#error")

    duty = browser.new_context().new_page()
    duty.goto(service.link_for("值班员甲"))
    duty.click("#use-link")
    policy = service.incident(POLICY)
    duty.goto(f"{service.base}/incidents/{policy.id}")
    assert duty.locator("#form-done").count() == 0 and duty.locator("#form-dismiss").count() == 0
    # Submitting the dismissal anyway (a crafted form with the session's own CSRF token) is refused.
    with duty.expect_navigation():
        duty.evaluate(
            """(action) => {
            const f = document.createElement('form'); f.method = 'post'; f.action = action;
            for (const [k, v] of [['csrf', document.querySelector('form.who input[name=csrf]').value], ['reason', '试试']]) {
                const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
            }
            document.body.appendChild(f); f.submit();
        }""",
            f"{service.base}/incidents/{policy.id}/dismiss",
        )
    assert "不能执行「排除误报」" in duty.inner_text("#error")
    with Session(make_engine(service.url)) as s:
        assert s.get_one(Incident, policy.id).status != "dismissed"
        assert not s.exec(select(IncidentEvent).where(IncidentEvent.kind == "dismissed")).all()
    ctx.close()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_gate_csrf_and_failed_sign_in_limit(service: Running) -> None:
    with httpx.Client(base_url=service.base, follow_redirects=False, timeout=10) as http:
        for path in (
            "/",
            "/ledger",
            "/ledger.xlsx",
            "/incidents/1",
            "/reports/weekly/2026-W47.png",
            "/nothing",
        ):
            r = http.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
        assert http.post("/incidents/1/ack", data={"csrf": "x"}).status_code == 303
        login = http.get("/login")
        assert (
            login.status_code == 200 and "frame-ancestors 'none'" in login.headers["content-security-policy"]
        )
        assert login.headers["referrer-policy"] == "no-referrer"
        assert http.post("/login", data={"name": "局长", "password": "x"}).status_code == 403  # no CSRF token
        token = _csrf(login.text)
        assert service.cli("web", "passwd", "局长", "--stdin", stdin=PASSWORD + "\n").returncode == 0
        for _ in range(3):
            r = http.post("/login", data={"csrf": token, "name": "局长", "password": "wrong password"})
            assert r.status_code == 401 and "姓名或密码不正确" in r.text
        r = http.post("/login", data={"csrf": token, "name": "局长", "password": PASSWORD})
        assert r.status_code == 429 and "登录失败次数过多" in r.text

    with httpx.Client(base_url=service.base, follow_redirects=False, timeout=10) as http:
        page = http.get("/login/" + service.link_for("值班员甲").rsplit("/login/", 1)[1])
        r = http.post(page.url.path, data={"csrf": _csrf(page.text)})
        assert r.status_code == 303 and "rsp_session" in r.cookies
        inc = service.incident(POLICY)
        refused = http.post(f"/incidents/{inc.id}/ack", data={"csrf": "not the session's"})
        assert refused.status_code == 403 and "表单已过期" in refused.text
