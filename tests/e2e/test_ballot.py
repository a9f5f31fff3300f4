"""The unlinkable ballot in a real browser: check-in at the first answer (never on page load),
the ballot without cookies, nothing lost when the network fails between the two, a used link,
and the no-JavaScript fallback with and without "unlinkable ballots required".
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, Request, Route, expect

from survey import db
from survey.models import Program, Round
from survey.services import ballotkeys
from tests.conftest import OpenRound, answers_for
from tests.e2e.conftest import PHONE, OpenPage
from tests.e2e.survey_page import SEND, THANKS, answer_by_clicks, question_names, requests_to
from tests.helpers import CARRIED_KEYS, invitation_unused, stored_answers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NETWORK = "Your answers could not be sent."
USED = "This access code is not valid or has already been used."
NOT_SAVED = "Your answers were not saved: the access code did not work."
BUSY = "The server was busy and nothing was saved; please send again."
RESUMED = "Your earlier answers are back; send them when you are ready."
CLOSED = "This round has closed."
NOJS = "JavaScript is off, so the server checks your link and receives your answers"
NOJS_REFUSED = "This survey accepts only unlinkable ballots, which need JavaScript."


def stored(app: Flask, round_id: int) -> int:
    with db.session_scope(app) as session:
        return stored_answers(session, round_id)


def unused(app: Flask, round_id: int, token: str) -> bool:
    """Return whether the invitation of ``token`` still exists (read only)."""
    with db.session_scope(app) as session:
        return invitation_unused(session, round_id, token)


def fingerprint(app: Flask, round_id: int, token: str) -> str:
    with db.session_scope(app) as session:
        key = ballotkeys.public_key(session, round_id, int(token.split(".", 1)[0]))
        return key.fingerprint


def key_shown(page: Page, app: Flask, round_id: int, token: str) -> None:
    """Wait until the script fetched the group's key: the page names the mode and the key."""
    expect(page.locator("#ballot-mode")).to_be_visible()
    expect(page.locator("#ballot-fingerprint")).to_have_text(
        f"Ballot key of your group: {fingerprint(app, round_id, token)}"
    )


def without_carried_keys(page: Page, round_id: int) -> None:
    """Serve the survey page without the ballot keys it carries, as a round with more keys
    than a page carries (survey_page.CARRIED_KEYS_MAX) is served: the script asks for its key."""

    def strip(route: Route) -> None:
        reply = route.fetch()
        body, count = CARRIED_KEYS.subn("", reply.text())
        assert count == 1, "the survey page carries no ballot keys to take away"
        route.fulfill(response=reply, body=body)

    page.route(f"**/s/{round_id}", strip)


def all_checked(page: Page, chosen: dict[str, str]) -> None:
    for name, value in chosen.items():
        expect(page.locator(f"input[name={name}][value='{value}']")).to_be_checked()


def test_round_trip_with_a_fragment_link(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    page = open_page(phone=True)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"/s/{rid}#{token}")
    expect(page.locator("#token")).to_have_value(token)
    key_shown(page, app, rid, token)  # from the keys the page carries
    # The first question, with its first choice, is on the first phone screen.
    first = page.locator("fieldset.question label.choice").first.bounding_box()
    assert first is not None and first["y"] + first["height"] <= PHONE["viewport"]["height"]

    answer_by_clicks(page)
    page.locator("#comment").fill("Sent as an unlinkable ballot.")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.get_by_role("button", name=SEND).click()
    page.wait_for_url(f"**/s/{rid}/done")
    # The thanks replaces the form in place, under the thanks page's address: no request
    # after the ballot (whose time a logged thanks page would otherwise keep).
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(THANKS)
    expect(heading).to_be_focused()
    assert page.title() == "Thank you · Candor"
    assert page.locator("#survey-form").count() == 0  # the answers left the page
    assert [url for url in fetched if not url.endswith("/ballot")] == []
    assert stored(app, rid) == 1
    assert not unused(app, rid, token)
    # The page carried its round's keys: no request named the group (no key request at all).
    assert not [url for url in asked if "/keys/" in url]
    # Nothing is left behind in the browser once the ballot is accepted.
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('candor-'))") == []
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('candor-'))") == []
    page.reload()  # the address is the thanks page's: a reload shows it from the server
    expect(page.get_by_role("heading", level=1)).to_have_text(THANKS)


def test_check_in_at_the_first_answer_not_on_load(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    page = open_page(phone=True)
    checkins = requests_to(page, "/checkin")
    page.goto(f"/s/{rid}#{token}")
    key_shown(page, app, rid, token)
    page.wait_for_timeout(1500)  # a scanner that runs the page's scripts and waits
    assert checkins == []
    assert unused(app, rid, token)

    with page.expect_response("**/checkin") as reply:
        page.locator("fieldset.question label.choice").first.click()
    assert reply.value.status == 200
    assert not unused(app, rid, token)
    assert len(checkins) == 1
    assert stored(app, rid) == 0  # checked in, nothing cast yet


def test_nothing_is_lost_between_check_in_and_ballot(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    link = f"/s/{rid}#{token}"
    page = open_page(phone=True)
    checkins = requests_to(page, "/checkin")
    ballots = requests_to(page, "/ballot")
    page.goto(link)
    key_shown(page, app, rid, token)
    with page.expect_response("**/checkin"):
        chosen = answer_by_clicks(page)
    comment = "Kept through a lost connection."
    page.locator("#comment").fill(comment)
    assert not unused(app, rid, token)

    page.route("**/ballot", lambda route: route.abort())
    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_role("alert")).to_contain_text(NETWORK)
    expect(page.locator("#form-message")).to_contain_text(NETWORK)
    all_checked(page, chosen)
    expect(page.locator("#comment")).to_have_value(comment)
    assert len(ballots) == 1 and stored(app, rid) == 0

    # A plain reload: the address no longer holds the code, this tab still does.
    page.reload()
    expect(page.locator("#token")).to_have_value(token)
    expect(page.locator("#token-box")).to_be_hidden()
    all_checked(page, chosen)
    expect(page.get_by_role("status")).to_have_text(RESUMED)

    page.goto("about:blank")  # the link again, in a new document
    page.goto(link)
    all_checked(page, chosen)
    expect(page.locator("#comment")).to_have_value(comment)
    expect(page.get_by_role("status")).to_have_text(RESUMED)
    expect(page.locator("#progress")).to_have_js_property("value", len(chosen))
    page.get_by_role("button", name=SEND).click()  # still blocked: still kept
    expect(page.locator("#form-message")).to_contain_text(NETWORK)
    assert len(ballots) == 2

    page.unroute("**/ballot")
    page.route(  # a busy server answers 503 with Retry-After: nothing stored, nothing lost
        "**/ballot",
        lambda route: route.fulfill(
            status=503, headers={"Retry-After": "5"}, json={"status": "busy"}
        ),
    )
    page.get_by_role("button", name=SEND).click()
    expect(page.locator("#form-message")).to_have_text(BUSY)
    all_checked(page, chosen)
    page.unroute("**/ballot")
    page.get_by_role("button", name=SEND).click()
    page.wait_for_url(f"**/s/{rid}/done")
    assert len(checkins) == 1  # the credential was kept: no second check-in
    assert stored(app, rid) == 1


def test_a_ballot_accepted_without_a_reply_is_not_cast_twice(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    """The ballot reaches the server but its reply is lost; the person changes an answer and
    sends again. One voice each: the first ballot stands and the page says it is in.
    """
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    page = open_page()
    page.goto(f"/s/{rid}#{token}")
    key_shown(page, app, rid, token)
    answer_by_clicks(page)

    def lose_reply(route: Any) -> None:
        route.fetch()  # the server stores the ballot
        route.abort()  # and the browser never hears of it

    page.route("**/ballot", lose_reply)
    page.get_by_role("button", name=SEND).click()
    expect(page.locator("#form-message")).to_contain_text(NETWORK)
    assert stored(app, rid) == 1
    page.unroute("**/ballot")
    page.locator(f"fieldset#{question_names(page)[0]}-group label.choice").nth(1).click()
    page.get_by_role("button", name=SEND).click()
    page.wait_for_url(f"**/s/{rid}/done")
    assert stored(app, rid) == 1


def test_the_ballot_carries_no_cookie(
    app: Flask, open_page: OpenPage, open_round: OpenRound, server: str
) -> None:
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    page = open_page()
    # A cookie the browser would send to this server with any request that allows it.
    page.context.add_cookies([{"name": "probe", "value": "1", "url": server}])
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    without_carried_keys(page, rid)  # so that the key is asked for, without a cookie too
    page.goto(f"/s/{rid}#{token}")
    key_shown(page, app, rid, token)
    answer_by_clicks(page)
    page.get_by_role("button", name=SEND).click()
    page.wait_for_url(f"**/s/{rid}/done")
    assert stored(app, rid) == 1

    def cookie(request: Request) -> str:
        return request.all_headers().get("cookie", "")

    document = next(r for r in requests if r.url.endswith(f"/s/{rid}") and r.method == "GET")
    assert "probe=1" in cookie(document)  # the probe works: the page itself got it
    ballot = [r for r in requests if r.method == "POST" and r.url.endswith("/ballot")]
    checkin = [r for r in requests if r.method == "POST" and r.url.endswith("/checkin")]
    keys = [r for r in requests if "/keys/" in r.url]
    assert len(ballot) == 1 and len(checkin) == 1 and keys
    for request in ballot + checkin + keys:
        assert cookie(request) == "", f"{request.method} {request.url} sent a cookie"
    body = ballot[0].post_data_json
    assert isinstance(body, dict)
    assert set(body) == {"key_id", "message", "signature", "answers", "comment", "lang"}
    assert token not in (ballot[0].post_data or "")  # the ballot names no invitation


def test_a_used_link_in_a_fresh_browser(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    data = {**answers_for(app, rid), "token": token}
    assert app.test_client().post(f"/s/{rid}", data=data).status_code == 303
    assert stored(app, rid) == 1

    page = open_page(phone=True)
    page.goto(f"/s/{rid}#{token}")
    key_shown(page, app, rid, token)
    expect(page.locator("#token-box")).to_be_hidden()
    page.locator("fieldset.question label.choice").first.click()
    expect(page.get_by_role("alert")).to_have_text(USED)
    expect(page.locator("#token-box")).to_be_visible()
    expect(page.locator("#token-error")).to_have_text(USED)
    chosen = answer_by_clicks(page)
    page.get_by_role("button", name=SEND).click()
    expect(page.locator("#form-message")).to_have_text(NOT_SAVED)
    expect(page.locator("#token")).to_be_focused()
    all_checked(page, chosen)  # the answers stay, for a second link or a corrected code
    assert stored(app, rid) == 1

    # Another person's code typed into the box works with the answers already on the page.
    other = list(open_round.tokens.values())[1]
    page.locator("#token").fill(other)
    page.locator("#token").press("Tab")
    page.get_by_role("button", name=SEND).click()
    page.wait_for_url(f"**/s/{rid}/done")
    assert stored(app, rid) == 2
    assert not unused(app, rid, other)


def test_a_code_whose_key_the_page_does_not_carry_is_refused_before_check_in(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    """A code naming a key the round does not have is not valid: the page says so at the
    first answer without checking in, and keeps the answers for a corrected code."""
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    wrong = "999." + token.split(".", 1)[1]
    page = open_page(phone=True)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"/s/{rid}#{wrong}")
    chosen = answer_by_clicks(page)
    expect(page.locator("#token-error")).to_have_text(USED)
    all_checked(page, chosen)
    assert not [url for url in asked if url.endswith(("/checkin", "/ballot")) or "/keys/" in url]
    assert unused(app, rid, token)


def test_a_key_refused_because_the_round_closed_says_closed(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    """A page that carries no keys (a round with many), from an app server that never handed
    out the key: its key request answers 410 once the round has closed (one that did hands it
    out, and the check-in says 410). The page says the round has closed, not that the code is
    wrong, and keeps the answers."""
    rid = open_round.round_id
    token = next(iter(open_round.tokens.values()))
    page = open_page(phone=True)
    without_carried_keys(page, rid)
    page.route("**/keys/*", lambda route: route.fulfill(status=410, json={"status": "closed"}))
    page.goto(f"/s/{rid}#{token}")
    chosen = answer_by_clicks(page)
    expect(page.get_by_role("alert")).to_contain_text(CLOSED)
    page.get_by_role("button", name=SEND).click()
    expect(page.get_by_role("alert")).to_contain_text(CLOSED)
    expect(page.locator("#token-box")).to_be_hidden()  # the code is not blamed
    all_checked(page, chosen)
    assert unused(app, rid, token) and stored(app, rid) == 0


def test_without_javascript_and_when_unlinkable_is_required(
    app: Flask, open_page: OpenPage, open_round: OpenRound
) -> None:
    rid = open_round.round_id
    first, second, third = list(open_round.tokens.values())[:3]
    page = open_page(phone=True, javascript=False)
    page.goto(f"/s/{rid}#{first}")
    expect(page.locator(".ballot-nojs")).to_contain_text(NOJS)
    expect(page.locator("#ballot-mode")).to_be_hidden()
    page.locator("#token").fill(first)
    answer_by_clicks(page)
    page.get_by_role("button", name=SEND).click()
    page.wait_for_url(f"**/s/{rid}/done")
    assert stored(app, rid) == 1
    assert not unused(app, rid, first)

    with db.session_scope(app) as session:
        rnd = session.get(Round, rid)
        assert rnd is not None
        program = session.get(Program, rnd.program_id)
        assert program is not None
        program.unlinkable_required = True
        session.commit()

    page.goto(f"/s/{rid}/{second}")
    expect(page.locator(".ballot-nojs")).to_contain_text(NOJS_REFUSED)
    chosen = answer_by_clicks(page)
    page.get_by_role("button", name=SEND).click()
    expect(page.locator("#form-message")).to_contain_text(NOJS_REFUSED)
    all_checked(page, chosen)
    assert stored(app, rid) == 1
    assert unused(app, rid, second)  # refused before anything was consumed

    # With JavaScript the same programme takes the unlinkable ballot.
    page = open_page(phone=True)
    page.goto(f"/s/{rid}#{third}")
    key_shown(page, app, rid, third)
    expect(page.locator(".ballot-nojs")).to_have_count(0)
    answer_by_clicks(page)
    page.get_by_role("button", name=SEND).click()
    page.wait_for_url(f"**/s/{rid}/done")
    assert stored(app, rid) == 2
