"""The command screen and the officer terminal in a real browser: a call appears, a click sends a unit, the
terminal acknowledges, and the screen sees it; across two workers joined by NATS; through a lost connection."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect
from tests.api.builders import DOWNTOWN, delete_nats_stream
from tests.browser.conftest import PASSWORD
from tests.browser.feed_line import FeedLine, Heard
from tests.browser.servers import NEAR, add_unit, free_port, order_for_a_new_unit, server_process, take_call

from precinct.domains.identity import accounts
from precinct.platform.config import Settings

PHONE = {"viewport": {"width": 400, "height": 800}}
NATS_URL = os.environ.get("PRECINCT_TEST_NATS_URL", "nats://127.0.0.1:4222")
OFFLINE = re.compile(r"\boff\b")


def live(page: Page) -> Page:
    """The page once connected to the live feed and loaded."""
    expect(page.locator("body[data-ready]")).to_be_attached()
    expect(page.locator("#live")).not_to_have_class(OFFLINE)
    return page


def take_to_the_scene(order: Locator) -> None:
    """Acknowledge, depart and arrive with the terminal's buttons (an English page)."""
    for action, state in (("acknowledge", "Acknowledged"), ("depart", "En route"), ("arrive", "On scene")):
        order.locator(f'button[data-action="{action}"]').click()
        expect(order.locator(".state")).to_have_text(state)


def dispatch_with_a_click(command: Page, incident_id: int, unit_id: int) -> None:
    command.locator(f'#queue tr[data-id="{incident_id}"]').click()
    command.locator(f'#panel button.dispatch[data-unit="{unit_id}"]').click()


def test_a_call_taken_over_the_api_appears_on_the_command_screen(
    site: str, open_page: Callable[..., Page], staff: dict[str, str], api: httpx.Client
) -> None:
    command = live(open_page(f"{site}/command", staff))
    incident = take_call(api, site)
    row = command.locator(f'#queue tr[data-id="{incident["id"]}"]')
    expect(row).to_contain_text(incident["number"])
    expect(row).to_have_class(re.compile("awaiting"))
    expect(command.locator("#n-awaiting")).to_have_text("1")
    # The caller's number reaches the screen masked, as the API returns it.
    row.click()
    expect(command.locator("#panel .caller")).to_have_text("138****5678")


def test_a_dispatcher_merges_a_duplicate_and_closes_the_call_it_joined_from_the_panel(
    site: str, open_page: Callable[..., Page], staff: dict[str, str], api: httpx.Client
) -> None:
    command = live(open_page(f"{site}/command", staff))
    first, second = take_call(api, site), take_call(api, site, narrative="又有人报警：路口打架")
    command.locator(f'#queue tr[data-id="{second["id"]}"]').click()
    duplicates = command.locator("#panel .duplicates li")
    expect(duplicates).to_have_count(1)
    expect(duplicates).to_contain_text(first["number"])
    duplicates.locator("button.merge").click()
    expect(command.locator("#panel .summary")).to_contain_text("已合并")
    expect(command.locator("#panel .timeline")).to_contain_text("合并")
    expect(command.locator(f'#queue tr[data-id="{second["id"]}"]')).to_have_count(0)

    command.locator(f'#queue tr[data-id="{first["id"]}"]').click()
    expect(command.locator("#panel .timeline")).to_contain_text("并入重复警情")
    command.locator("#panel .close input").fill("双方已调解")
    command.locator("#panel .close button").click()
    expect(command.locator("#panel .summary")).to_contain_text("已结警")
    expect(command.locator("#panel .timeline")).to_contain_text("结警")
    closed = api.get(f"{site}/api/incidents/{first['id']}/history").json()
    assert closed["incident"]["status"] == "closed"
    assert [e["data"].get("reason") for e in closed["events"] if e["kind"] == "closed"] == ["双方已调解"]


def test_a_call_taker_registers_a_call_with_the_keyboard_alone(
    site: str, open_page: Callable[..., Page], staff: dict[str, str], api: httpx.Client
) -> None:
    command = live(open_page(f"{site}/command", staff))
    keys = command.keyboard
    keys.press("Alt+n")
    keys.type("01020100")  # the type list jumps to the typed code
    for text in (None, "SW Morrison St", f"{DOWNTOWN[0]}", f"{DOWNTOWN[1]}", "一人受伤"):
        keys.press("Tab")
        if text is not None:
            keys.type(text)
    keys.press("Control+Enter")
    expect(command.locator("#form-message")).to_contain_text("PDX-CE-")
    created = api.get(f"{site}/api/incidents", params={"status": "received"}).json()
    assert [(i["type_code"], i["address"], i["narrative"]) for i in created] == [
        ("01020100", "SW Morrison St", "一人受伤")
    ]
    expect(command.locator(f'#queue tr[data-id="{created[0]["id"]}"]')).to_be_visible()


def test_one_click_sends_the_order_to_the_terminal_and_its_acknowledgement_comes_back(
    site: str,
    open_page: Callable[..., Page],
    staff: dict[str, str],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    unit_id = add_unit(api, site, "CE-P1", *NEAR)
    command = live(open_page(f"{site}/command", staff))
    terminal = live(open_page(f"{site}/terminal", terminal_of(unit_id), **PHONE))
    incident = take_call(api, site)

    command.locator(f'#queue tr[data-id="{incident["id"]}"]').click()
    expect(command.locator("#panel .ranked .reasons").first).to_have_text("具备预案要求的 巡逻")  # the page's language
    dispatch_with_a_click(command, incident["id"], unit_id)
    order = terminal.locator("article.order")
    expect(order).to_contain_text("SW 5th Ave & SW Morrison St")
    expect(order).to_contain_text("两人在路口打架")
    expect(order.locator(".route")).to_contain_text("路线")
    order.locator("button.step.acknowledge").click()

    expect(command.locator("#panel .orders li.acknowledged")).to_contain_text("CE-P1")
    expect(command.locator(f'#units li[data-id="{unit_id}"]')).to_have_class(re.compile("assigned"))
    [sent] = api.get(f"{site}/api/dispatches", params={"unit_id": unit_id}).json()
    assert sent["status"] == "acknowledged"
    assert sent["acknowledged_at"] is not None


def test_two_workers_joined_by_nats_serve_one_screen_and_one_terminal(
    settings: Settings,
    with_roads: None,
    open_page: Callable[..., Page],
    staff: dict[str, str],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    tag = uuid.uuid4().hex[:10]
    over_nats = {
        "PRECINCT_EVENT_BUS": "nats",
        "PRECINCT_NATS_URL": NATS_URL,
        "PRECINCT_NATS_STREAM": f"PRECINCT_TEST_{tag}",
        "PRECINCT_NATS_SUBJECT_PREFIX": f"precinct_test_{tag}",
        # Without NATS each worker would poll the outbox: make that poll too slow to pass the test by itself.
        "PRECINCT_EVENT_POLL_S": "60",
    }
    try:
        with (
            server_process(settings, free_port(), **over_nats) as first,
            server_process(settings, free_port(), **over_nats) as second,
        ):
            unit_id = add_unit(api, first, "CE-P1", *NEAR)
            command = live(open_page(f"{first}/command", staff))
            terminal = live(open_page(f"{second}/terminal", terminal_of(unit_id), **PHONE))
            incident = take_call(api, second)  # taken on the second worker, seen on the first one's screen

            dispatch_with_a_click(command, incident["id"], unit_id)
            terminal.locator("article.order button.step.acknowledge").click()
            expect(command.locator("#panel .orders li.acknowledged")).to_contain_text("CE-P1")
    finally:
        delete_nats_stream(NATS_URL, over_nats["PRECINCT_NATS_STREAM"])


def test_a_terminal_that_loses_its_server_catches_up_and_sends_what_it_did_offline_once(
    settings: Settings,
    site: str,
    open_page: Callable[..., Page],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    unit_id = add_unit(api, site, "CE-P1", *NEAR)
    port = free_port()  # the terminal's own server, stopped and started again on the same port
    with server_process(settings, port) as own:
        terminal = live(open_page(f"{own}/terminal", terminal_of(unit_id), **PHONE))
        expect(terminal.locator("#no-orders")).to_be_visible()
    expect(terminal.locator("#live")).to_have_class(OFFLINE)

    incident = take_call(api, site)
    sent = api.post(f"{site}/api/incidents/{incident['id']}/dispatches", json={"unit_id": unit_id})
    assert sent.status_code == 201, sent.text
    with server_process(settings, port):
        expect(terminal.locator("article.order")).to_contain_text("SW 5th Ave & SW Morrison St")
    expect(terminal.locator("#live")).to_have_class(OFFLINE)

    terminal.locator("article.order button.step.acknowledge").click()
    expect(terminal.locator("#queued")).to_be_visible()
    expect(terminal.locator("article.order .state")).to_have_text("已签收")  # shown at once, sent later
    assert api.get(f"{site}/api/dispatches/{sent.json()['id']}").json()["status"] == "ordered"

    with server_process(settings, port):
        expect(terminal.locator("#queued")).to_be_hidden()
        expect(terminal.locator("#live")).not_to_have_class(OFFLINE)
    history = api.get(f"{site}/api/incidents/{incident['id']}/history").json()
    assert [d["status"] for d in history["dispatches"]] == ["acknowledged"]
    assert [e["kind"] for e in history["events"]].count("acknowledged") == 1


def test_an_officer_takes_an_order_from_acknowledgement_to_feedback_and_clearing(
    site: str,
    open_page: Callable[..., Page],
    staff: dict[str, str],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    unit_id, sent = order_for_a_new_unit(api, site)
    terminal = live(open_page(f"{site}/terminal?lang=en", terminal_of(unit_id), **PHONE))
    order = terminal.locator("article.order")
    take_to_the_scene(order)
    feedback = order.locator("form.feedback")
    feedback.locator("select").select_option("mediated")
    feedback.locator('input[name="people_helped"]').fill("2")
    feedback.locator("textarea").fill("双方和解")
    # The terminal redraws on every event; one arriving while the officer types must not wipe the report.
    moved = api.put(f"{site}/api/units/{unit_id}/position", json={"lon": NEAR[0], "lat": NEAR[1]})
    assert moved.status_code == 200
    terminal.wait_for_timeout(700)  # the move's event reaches the page and redraws it
    feedback.locator("button[type=submit]").click()
    expect(feedback).to_be_hidden()
    order.locator('button[data-action="clear"]').click()
    expect(terminal.locator("#no-orders")).to_have_text("No orders. Keep patrolling")
    expect(terminal.locator("#queued")).to_be_hidden()  # shown at once, and sent: the server has it too

    filed = api.get(f"{site}/api/dispatches/{sent['id']}").json()
    assert (filed["status"], filed["outcome_code"], filed["people_helped"], filed["feedback_text"]) == (
        "cleared",
        "mediated",
        2,
        "双方和解",
    )


def test_a_redraw_while_an_officer_types_the_report_takes_neither_the_keyboard_nor_the_text(
    site: str,
    open_page: Callable[..., Page],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    unit_id, _ = order_for_a_new_unit(api, site)
    terminal = live(open_page(f"{site}/terminal?lang=en", terminal_of(unit_id), **PHONE))
    order = terminal.locator("article.order")
    take_to_the_scene(order)
    expect(terminal.locator("#queued")).to_be_hidden()  # the steps are sent: no sending is under way
    text = order.locator("form.feedback textarea")
    text.click()
    terminal.keyboard.type("双方")
    # The phone is back in coverage: the page sends what waited and redraws, as it does on every live event. This
    # redraw is over when the call returns, so the next keys certainly come after it (Playwright's fill focuses the
    # field and types in two steps, and a redraw that fell between them lost the whole text in CI).
    terminal.evaluate("() => window.dispatchEvent(new Event('online'))")
    terminal.keyboard.type("和解")
    expect(text).to_be_focused()
    expect(text).to_have_value("双方和解")


def test_old_events_heard_again_after_a_reconnection_do_not_move_an_order_back(
    site: str,
    open_page: Callable[..., Page],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    unit_id, sent = order_for_a_new_unit(
        api, site, "acknowledge", "depart"
    )  # given by radio, before the terminal is opened
    line = FeedLine()
    terminal = live(open_page(f"{site}/terminal?lang=en", terminal_of(unit_id), prepare=line.attach, **PHONE))
    order = terminal.locator(f'article.order[data-order="{sent["id"]}"]')
    expect(order.locator(".state")).to_have_text("En route")
    order.locator('button[data-action="arrive"]').click()
    expect(order.locator("form.feedback")).to_be_visible()

    def about_this_order(status: str, connection: int) -> Callable[[Heard], bool]:
        return lambda heard: (
            heard.connection == connection
            and heard.event["payload"].get("id") == sent["id"]
            and heard.event["payload"].get("status") == status
        )

    # The page has heard its own arrival, so that event will not be handed to it again; the older ones came before
    # it opened, so a reconnection (?after=) replays them, as it replays whatever the last half minute wrote.
    line.wait_for_event("the arrival reaching the page", about_this_order("on_scene", 0))
    line.cut()
    line.wait_for_event("the order sent again", about_this_order("ordered", 1))
    line.wait_for_event("the departure heard again", about_this_order("en_route", 1))

    expect(order.locator(".state")).to_have_text("On scene")
    expect(order.locator("form.feedback")).to_be_visible()
    expect(order.locator('button[data-action="arrive"]')).to_have_count(0)
    expect(order.locator('button[data-action="clear"]')).to_be_visible()


def test_a_report_the_server_refuses_comes_back_with_what_the_officer_wrote_and_why(
    site: str,
    open_page: Callable[..., Page],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    unit_id, sent = order_for_a_new_unit(api, site, "acknowledge", "depart", "arrive")
    terminal = live(open_page(f"{site}/terminal", terminal_of(unit_id), **PHONE))  # in Chinese, as by default
    order = terminal.locator("article.order")
    form = order.locator("form.feedback")
    form.locator("select").select_option("mediated")
    form.locator('input[name="people_helped"]').fill("2")
    form.locator("textarea").fill("双方和解，已登记")
    # Meanwhile the order's report is filed from the station: there is one report per order, so this one is refused.
    filed = api.post(
        f"{site}/api/dispatches/{sent['id']}/feedback", json={"outcome_code": "resolved", "text": "已处理"}
    )
    assert filed.status_code == 200, filed.text
    form.locator("button[type=submit]").click()

    expect(order.get_by_role("alert")).to_have_text(
        re.compile(rf"^反馈未被接受：feedback for order {sent['id']} was already filed at ")
    )
    expect(form).to_be_visible()
    expect(form.locator("textarea")).to_have_value("双方和解，已登记")
    expect(form.locator("select")).to_have_value("mediated")
    expect(form.locator('input[name="people_helped"]')).to_have_value("2")
    # Dropped, not kept to be refused again on every try.
    expect(terminal.locator("#queued")).to_be_hidden()
    assert terminal.evaluate(f"() => localStorage.getItem('precinct.terminal.queue.{unit_id}')") == "[]"
    kept = api.get(f"{site}/api/dispatches/{sent['id']}").json()
    assert (kept["outcome_code"], kept["feedback_text"]) == ("resolved", "已处理")


def test_a_step_the_server_refuses_shows_why_and_the_order_as_it_really_is(
    site: str,
    open_page: Callable[..., Page],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    unit_id, sent = order_for_a_new_unit(api, site)
    line = FeedLine()
    terminal = live(open_page(f"{site}/terminal?lang=en", terminal_of(unit_id), prepare=line.attach, **PHONE))
    order = terminal.locator("article.order")
    expect(order.locator(".state")).to_have_text("Not acknowledged")
    line.cut(stay_down=True)  # the live feed is lost; requests still get through
    expect(terminal.locator("#live")).to_have_class(OFFLINE)
    for action in ("acknowledge", "depart"):  # given by radio: the terminal does not hear of them
        assert api.post(f"{site}/api/dispatches/{sent['id']}/{action}", json={}).status_code == 200
    order.locator('button[data-action="acknowledge"]').click()

    expect(order.get_by_role("alert")).to_have_text(
        "Action refused: cannot acknowledge a dispatch order that is en_route; allowed now: arrive, cancel"
    )
    expect(order.locator(".state")).to_have_text("En route")  # fetched again, not what the page had guessed
    expect(order.locator('button[data-action="arrive"]')).to_be_visible()
    expect(terminal.locator("#queued")).to_be_hidden()
    assert terminal.evaluate(f"() => localStorage.getItem('precinct.terminal.queue.{unit_id}')") == "[]"
    # Taking the next step, the officer has read the reason: it goes.
    order.locator('button[data-action="arrive"]').click()
    expect(order.locator("form.feedback")).to_be_visible()
    expect(order.get_by_role("alert")).to_have_count(0)
    expect(terminal.locator("#queued")).to_be_hidden()  # shown at once, and sent
    assert api.get(f"{site}/api/dispatches/{sent['id']}").json()["status"] == "on_scene"


def test_the_pages_ask_who_is_there_before_anything_shows(
    site: str,
    open_page: Callable[..., Page],
    staff: dict[str, str],
    terminal_of: Callable[[int], dict[str, str]],
    api: httpx.Client,
) -> None:
    command = open_page(f"{site}/command")
    form = command.locator("#sign-in")
    expect(form).to_be_visible()
    expect(command.locator("body[data-ready]")).not_to_be_attached()  # nothing loaded for a stranger
    form.locator('input[name="login"]').fill(staff["login"])
    form.locator('input[name="password"]').fill("not the password")
    form.locator("button[type=submit]").click()
    expect(form.locator(".problem")).to_have_text("账号或密码错误，或账号已暂时锁定")
    form.locator('input[name="password"]').fill(staff["password"])
    form.locator("button[type=submit]").click()
    live(command)
    expect(command.locator("#sign-out")).to_contain_text("disp")

    unit_id = add_unit(api, site, "CE-P1", *NEAR)
    terminal = open_page(f"{site}/terminal", **PHONE)
    token = terminal.locator('#sign-in input[name="token"]')
    token.fill(terminal_of(unit_id)["token"])
    terminal.locator("#sign-in button[type=submit]").click()
    live(terminal)
    expect(terminal.locator("#call-sign")).to_have_text("CE-P1")  # the token's unit, without asking which

    command.locator("#sign-out").click()
    expect(command.locator("#sign-in")).to_be_visible()  # the session is over: the page asks again


def test_a_station_chief_sees_who_was_sent_to_help_and_ends_the_grant(
    site: str,
    open_page: Callable[..., Page],
    staff: dict[str, str],
    ctx_factory: Callable[[], Any],
    api: httpx.Client,
) -> None:
    """Decision 0011 on the command screen: a unit of North precinct sent to a Central call opens that incident to
    North for a while; Central's chief sees it on the grants card and ends it. A dispatcher has no such card."""
    with ctx_factory() as ctx:
        accounts.create_user(ctx, login="chief", role="station_chief", org_code="PDX-CE", password=PASSWORD)
    helper = add_unit(api, site, "NO-P1", *NEAR, home="PDX-NO")
    incident = take_call(api, site)
    assert api.post(f"{site}/api/incidents/{incident['id']}/dispatches", json={"unit_id": helper}).status_code == 201

    chief = live(open_page(f"{site}/command?lang=en", {"login": "chief", "password": PASSWORD}))
    card = chief.locator("#grants-card")
    expect(card).to_be_visible()
    (grant,) = card.locator("li").all()
    expect(grant).to_contain_text(f"PDX-NO sees incident {incident['number']}")
    expect(grant).to_contain_text("unit NO-P1 sent to assist")
    grant.locator("button.revoke").click()
    expect(card.locator("li")).to_have_count(0)
    expect(card.locator("#grants-none")).to_be_visible()
    (ended,) = api.get(f"{site}/api/grants", params={"include_ended": True}).json()
    assert ended["revoked_by"] == "chief"

    dispatcher = live(open_page(f"{site}/command", staff))
    expect(dispatcher.locator("#grants-card")).to_be_hidden()
