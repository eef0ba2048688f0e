"""The browser page sweep (tests/browser/test_page_sweep.py): the pages to visit, the data
they show, and the layout and accessibility checks run on each."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from callbacks import catalog
from callbacks import services as callbacks
from callbacks.models import Delivery
from domains import services
from tests.receiver import Received, wait_for

AXE = Path(__file__).parents[1] / "browser" / "vendor" / "axe.min.js"
VIEWPORTS = [(1366, 900), (390, 844)]
DELIBERATE_404 = "/domains/no-such-domain.example/"  # the "404 page" visit
PASSWORD = "correct horse battery"

# Measures (a) and (b) in the page; returns plain data for Python to word.
LAYOUT = r"""() => {
  const vw = window.innerWidth;
  const style = new Map();
  const clips = (el) => {  // scrolls or clips sideways: what is inside cannot stick out
    if (!style.has(el)) {
      const o = getComputedStyle(el).overflowX;
      style.set(el, o !== "visible" || el.tagName === "SELECT");
    }
    return style.get(el);
  };
  const inClipper = (node, stop) => {
    for (let p = node.parentElement; p && p !== stop; p = p.parentElement) {
      if (clips(p)) return true;
    }
    return stop ? clips(stop) : false;
  };
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    for (const c of el.classList) s += "." + c;
    return s;
  };
  const excerpt = (text) => {
    const t = (text || "").replace(/\s+/g, " ").trim();
    return t.length > 60 ? t.slice(0, 57) + "..." : t;
  };
  const rightOf = (node) => {
    if (node.nodeType === Node.ELEMENT_NODE) {
      const r = node.getBoundingClientRect();
      return r.width === 0 && r.height === 0 ? null : r.right;
    }
    if (!node.textContent.trim()) return null;
    const range = document.createRange();
    range.selectNodeContents(node);
    let right = null;
    for (const r of range.getClientRects()) {
      if (r.width > 0) right = right === null ? r.right : Math.max(right, r.right);
    }
    return right;
  };
  const SKIP = new Set(["SCRIPT", "STYLE", "TEMPLATE", "NOSCRIPT", "HEAD"]);
  // Nodes under ``root`` whose right edge passes ``limit`` by more than 1 px, outermost only.
  const outermost = (root, limit, stop) => {
    const found = [];
    const elements = new Set();
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => n.nodeType === Node.ELEMENT_NODE && SKIP.has(n.tagName)
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const right = rightOf(node);
      if (right === null || right <= limit + 1) continue;
      const el = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
      if (getComputedStyle(el).visibility === "hidden") continue;
      if (inClipper(node, stop)) continue;
      if (node === el) elements.add(el);
      found.push({node, el, by: Math.round(right - limit)});
    }
    return found.filter(({node, el}) => {
      for (let p = node === el ? el.parentElement : el; p && p !== root; p = p.parentElement) {
        if (elements.has(p)) return false;
      }
      return true;
    }).map(({node, el, by}) => {
      const what = node === el ? name(el) : "text in " + name(el);
      return {by, what: what + ' "' + excerpt(node.textContent) + '"'};
    });
  };
  const cards = [];
  document.querySelectorAll(".card").forEach((card, index) => {
    const heading = ["h1", "h2", "h3"].map((h) => card.querySelector(h)).find(Boolean);
    const right = card.getBoundingClientRect().right;
    const over = outermost(card, right, card);
    if (over.length) {
      cards.push({card: heading ? excerpt(heading.textContent) : "card " + (index + 1), over});
    }
  });
  const scrollWidth = document.documentElement.scrollWidth;
  const wide = scrollWidth > vw ? outermost(document.body, vw, null) : [];
  // Tables and cards fit their own box (only code blocks and charts scroll inside).
  const boxes = [];
  document.querySelectorAll("table, .card").forEach((el) => {
    if (!el.getClientRects().length) return;  // not shown (a closed drawer)
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== "inline") {
      boxes.push({what: name(el), scroll: el.scrollWidth, client: el.clientWidth});
    }
  });
  // Each chart opens on its newest hour: the newest bar lies inside its scroll box.
  const charts = [];
  document.querySelectorAll(".chart-scroll").forEach((box, index) => {
    const newest = box.querySelector("g.newest, .newest");
    if (!newest || !box.getClientRects().length) return;
    const b = box.getBoundingClientRect(), n = newest.getBoundingClientRect();
    if (n.left < b.left - 1 || n.right > b.right + 1 || n.right > vw) {
      charts.push({chart: box.getAttribute("aria-label") || "chart " + (index + 1),
                   left: Math.round(n.left), right: Math.round(n.right),
                   boxLeft: Math.round(b.left), boxRight: Math.round(b.right)});
    }
  });
  // Payloads never break inside a word: each line of the JSON is one line box.
  const payloads = [];
  document.querySelectorAll("pre.payload").forEach((pre) => {
    const lines = pre.textContent.replace(/\n$/, "").split("\n").length;
    const range = document.createRange();
    range.selectNodeContents(pre);
    const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0)
      .map((r) => Math.round(r.top)));
    if (tops.size > lines) payloads.push({lines, boxes: tops.size});
  });
  // On a domain page, each endpoint's state and actions menu are in the window.
  const rows = [];
  document.querySelectorAll("table.endpoints tbody tr").forEach((tr) => {
    for (const sel of ["td.state", "details.menu > summary"]) {
      const el = tr.querySelector(sel);
      if (!el) continue;
      const r = el.getBoundingClientRect();
      if (r.left < 0 || r.right > vw + 1) {
        rows.push({row: tr.id, what: sel, left: Math.round(r.left), right: Math.round(r.right)});
      }
    }
  });
  return {scrollWidth, innerWidth: vw, wide, cards, boxes, charts, payloads, rows};
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => {
      const first = v.nodes[0] || {};
      const check = [...(first.any || []), ...(first.all || []), ...(first.none || [])][0];
      return {id: v.id, impact: v.impact, help: v.help, detail: check ? check.message : "",
              targets: v.nodes.map((n) => n.target.join(" "))};
    });
}"""

# Posts to the admins form from a page the user may see (its sign-out form has the token).
POST_ADD_ADMIN = """(url) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = url;
  form.append(document.querySelector("input[name=csrfmiddlewaretoken]").cloneNode());
  const email = document.createElement("input");
  email.name = "email";
  email.value = "someone@acme.com";
  form.append(email);
  document.body.append(form);
  form.submit();
}"""


def measure(page) -> list[str]:
    """The page's problems, worded for the report."""
    problems = []
    layout = page.evaluate(LAYOUT)
    if layout["scrollWidth"] > layout["innerWidth"]:
        wide = "; ".join(f"{w['what']} (+{w['by']} px)" for w in layout["wide"][:5])
        more = len(layout["wide"]) - 5
        problems.append(
            f"scrolls sideways: the document is {layout['scrollWidth']} px wide in a "
            f"{layout['innerWidth']} px window; sticking out: "
            + (wide or "no element outside a scrolling box (look for positioned or hidden ones)")
            + (f"; and {more} more" if more > 0 else "")
        )
    for card in layout["cards"]:
        for over in card["over"][:6]:
            problems.append(
                f"overflows its card ({card['card']!r}) by {over['by']} px: {over['what']}"
            )
        if len(card["over"]) > 6:
            problems.append(
                f"overflows its card ({card['card']!r}): and {len(card['over']) - 6} more"
            )
    for box in layout["boxes"]:
        problems.append(f"wider than its box: {box['what']} is {box['scroll']} px wide inside "
                        f"{box['client']} px")
    for chart in layout["charts"]:
        problems.append(f"the newest hour of {chart['chart']!r} is out of view: at "
                        f"{chart['left']}-{chart['right']} px, its box {chart['boxLeft']}-"
                        f"{chart['boxRight']} px")
    for payload in layout["payloads"]:
        problems.append(f"the payload breaks inside its lines: {payload['lines']} lines drawn "
                        f"on {payload['boxes']}")
    for row in layout["rows"]:
        problems.append(f"endpoint {row['row']}: {row['what']} is outside the window "
                        f"({row['left']}-{row['right']} px)")
    page.add_script_tag(path=str(AXE))
    for v in page.evaluate(AXE_RUN):
        targets = ", ".join(v["targets"][:4]) + (" ..." if len(v["targets"]) > 4 else "")
        detail = v["detail"] if len(v["detail"]) <= 200 else v["detail"][:197] + "..."
        problems.append(
            f"axe {v['id']} ({v['impact']}) on {len(v['targets'])} element(s): "
            f"{v['help']} [{targets}]" + (f"; first: {detail}" if detail else "")
        )
    return problems


def submit(page, locator) -> None:
    with page.expect_navigation():
        locator.click()


def sign_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    submit(page, page.locator("main").get_by_role("button", name="Sign in"))
    if "/accounts/login" in page.url:
        raise AssertionError(f"could not sign in as {email}")


def sign_in_to_admin(page, email: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    submit(page, page.locator("input[type=submit]"))
    if "/admin/login" in page.url:
        raise AssertionError(f"could not sign in to the admin as {email}")


@dataclass
class Visit:
    name: str
    who: str  # "anonymous", "admin" (acme's primary), "co-admin", "support"
    go: Callable[[Any], None]


def expect_status(response, status: int) -> None:
    if response is None or response.status != status:
        got = response.status if response is not None else "no answer"
        raise AssertionError(f"expected HTTP {status}, got {got}")


def answer(index: int, request: Received) -> tuple[int, dict[str, str], bytes]:
    """The receiver: /hooks/flaky/... fails with a JSON error; the rest succeed."""
    if request.path.startswith("/hooks/flaky"):
        body = b'{"error": "upstream database timeout while writing camera.updated"}'
        return 500, {"Content-Type": "application/json"}, body
    return 200, {}, b"ok"


def make_data(*, receiver, acme, acme_admin, acme_teammate, camera, integration) -> dict:
    """What every page family needs: endpoints with deliveries (one failed, with its
    attempts), a replay, incidents and counters, tokens, a PACS with doors and events."""
    import json

    from incidents import services as incidents
    from incidents.models import Incident
    from pacs import services as pacs

    receiver.answer = answer
    good = callbacks.endpoint_create(
        domain=acme,
        url=receiver.url + "/hooks/camio/acme-headquarters/callbacks",
        event_types=list(catalog.NAMES),
        headers={"Authorization": "token XYZPDQ"},
        description="Front desk integration (production)",
        actor=acme_admin,
    )
    flaky = callbacks.endpoint_create(
        domain=acme,
        url=receiver.url + "/hooks/flaky/camera-events",
        event_types=["camera.updated"],
        actor=acme_admin,
    )
    dock = services.camera_create(
        owner=acme_admin,
        device=camera.device,
        name="Loading Dock",
        ip_address="192.168.1.21",
        local_camera_id="AABBCC001122.1",
    )
    services.camera_update(camera=dock, actor=acme_admin, changes={"name": "Loading Dock North"})
    wait_for(
        lambda: Delivery.objects.filter(endpoint=flaky, state="failed").exists()
        and Delivery.objects.filter(endpoint=good, state="succeeded").exists(),
        timeout=60,
        what="a succeeded and a failed delivery",
    )
    failed = Delivery.objects.filter(endpoint=flaky, state="failed").earliest("created_at")
    history(good)
    now = timezone.now()
    job = callbacks.replay_start(
        endpoint=good,
        start=now - datetime.timedelta(hours=1),
        end=now + datetime.timedelta(minutes=1),
        include_all=True,
        actor=acme_admin,
    )

    report = incidents.ingest_reports(
        device=camera.device,
        reports=[
            {
                "time": now.isoformat(),
                "cameras": {
                    camera.camera_id: {
                        "segmentation_process_restart_count": 47,
                        "movies_purged_count": 2,
                    }
                },
            }
        ],
    )
    incidents.evaluate_reports(report.report_ids)
    wait_for(lambda: Incident.objects.exists(), what="an incident")

    services.token_issue(
        kind="user", user=acme_admin, name="Nightly export to the data warehouse", actor=None
    )
    services.domain_admin_add(domain=acme, user=acme_teammate, actor=acme_admin)
    invited = services.user_create(email="night.shift@acme.com", actor=None)
    invitation = services.invitation_send(user=invited, domain=acme, actor=acme_admin)

    pacs.integration_token_issue(integration=integration, actor=None)
    pacs.devices_replace(
        integration=integration,
        devices=[
            {"device_id": "1_1", "device_name": "Rooftop Reader 1"},
            {"device_id": "2_14", "device_name": "Loading dock reader, north entrance, level -1"},
        ],
    )
    pacs.device_map(device=integration.devices.get(device_id="1_1"), cameras=[camera], actor=None)
    fixture = Path(__file__).parents[1] / "fixtures" / "pacs" / "onguard.json"
    pacs.ingest_events(integration=integration, events=[json.loads(fixture.read_text())["event"]])

    return {
        "good": good.endpoint_id,
        "flaky": flaky.endpoint_id,
        "good_pk": good.pk,
        "failed": str(failed.pk),
        "job": job.job_id,
        "camera": camera.camera_id,
        "integration": integration.integration_id,
        "invitation": invitation.removeprefix(django_settings.PORTAL_URL),
        "teammate": acme_teammate,
    }


def history(endpoint) -> None:
    """23 earlier hours of rolled-up traffic for ``endpoint`` (the screenshots' chart)."""
    import datetime

    from django.utils import timezone

    from callbacks.models import EndpointHourlyStat, EndpointLatencyStat

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for back in range(1, 24):
        hour = now - datetime.timedelta(hours=back)
        delivered = 40 + (back * 37) % 60
        gave_up = 6 if back in (5, 6) else (back % 7 == 0)
        EndpointHourlyStat.objects.create(endpoint=endpoint, hour=hour, delivered=delivered,
                                          gave_up=gave_up, succeeded=delivered,
                                          failed=gave_up * 3)
        for bucket, count in ((2, delivered // 2), (3, delivered // 3), (5, 4),
                              (7 if back in (5, 6) else 6, 2)):
            EndpointLatencyStat.objects.create(endpoint=endpoint, hour=hour, bucket=bucket,
                                               count=count)


def visits(d: dict) -> list[Visit]:
    """Every page family, in the order a person would meet them."""
    domain = "/domains/acme.com"
    good, flaky = f"{domain}/endpoints/{d['good']}", f"{domain}/endpoints/{d['flaky']}"

    def wrong_password(page):
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill("hq@acme.com")
        page.get_by_label("Password").fill("not the password")
        submit(page, page.locator("main").get_by_role("button", name="Sign in"))

    def reset_sent(page):
        page.goto("/accounts/password_reset/")
        page.locator("input[name=email]").fill("guard@acme.com")
        submit(page, page.get_by_role("button", name="Send the link"))

    def reset_choose(page):
        user = d["teammate"]
        user.refresh_from_db()  # the token depends on the last sign-in
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        page.goto(reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token}))
        if "set-password" not in page.url:
            raise AssertionError(f"the reset link did not work: {page.url}")

    def invitation_errors(page):
        page.goto(d["invitation"])
        page.locator("input[name=new_password1]").fill("short")
        page.locator("input[name=new_password2]").fill("different")
        submit(page, page.get_by_role("button", name="Set password"))

    def invitation_invalid(page):
        expect_status(page.goto("/invitations/not-a-real-token/"), 410)

    def find(name: str):
        def go(page):
            page.goto("/domains")
            page.get_by_label("Domain").fill(name)
            submit(page, page.get_by_role("button", name="Find"))

        return go

    def endpoint_add_errors(page):
        page.goto(f"{domain}/endpoints/new")
        page.get_by_label("URL").fill("not a url")
        page.get_by_label("HTTP headers (JSON)").fill('{"Authorization": ')
        submit(page, page.locator("main").get_by_role("button", name="Add endpoint"))

    def endpoint_edit_errors(page):
        page.goto(f"{good}/edit")
        page.get_by_label("URL").fill("ftp://files.acme.com/drop")
        page.get_by_label("HTTP headers (JSON)").fill("{")
        submit(page, page.locator("main").get_by_role("button", name="Save"))

    def test_event(page):
        page.goto(f"{domain}/")
        page.locator("details.menu > summary").first.click()  # the row's Actions menu
        page.get_by_label("Test event type").first.select_option("zone.created")
        submit(page, page.get_by_role("button", name="Send test").first)
        page.wait_for_function(
            "() => !['pending', 'sending'].includes(document.getElementById('state').textContent)",
            timeout=30_000,
        )

    def secret_revealed(page):
        page.goto(f"{good}/secret")
        submit(page, page.get_by_role("button", name="Reveal the secret"))

    def curl_revealed(page):
        page.goto(f"{domain}/deliveries/{d['failed']}")
        submit(page, page.get_by_role("button", name="Show real values in the curl commands"))

    def replay_count(page):
        page.goto(f"{flaky}/replay")
        page.evaluate("""() => {
            const pad = (d) => d.toISOString().slice(0, 16);
            const now = new Date();
            document.getElementById("id_start").value = pad(new Date(now - 3600e3));
            document.getElementById("id_end").value = pad(new Date(now.getTime() + 60e3));
        }""")
        submit(page, page.get_by_role("button", name="Count"))

    def replay_progress(page):
        page.goto(f"{domain}/replays/{d['job']}")
        page.wait_for_function(
            "() => !['queued', 'running'].includes(document.getElementById('state').textContent)",
            timeout=30_000,
        )

    def co_admin_added(page):
        page.goto(f"{domain}/")
        width = page.viewport_size["width"]
        page.locator("#id_email").fill(f"desk.{width}@acme.com")
        submit(page, page.get_by_role("button", name="Add", exact=True))

    def new_token(page):
        page.goto("/account/tokens")
        page.get_by_label("Name").fill("Camera inventory sync")
        submit(page, page.get_by_role("button", name="Create a token"))

    integration = f"/integrations/pacs/{d['integration']}"

    def pacs_new_token(page):
        page.goto(integration)
        submit(page, page.get_by_role("button", name="Create a token"))

    def pacs_mapping(page):
        page.goto(integration)
        picker = page.locator("fieldset.picker").last
        picker.locator("input.picker-find").fill("loading")  # the picker searches by name
        shown = picker.locator(".picker-item:visible")
        assert shown.all_inner_texts() and all(
            "Loading Dock North" in text or picker.locator("input:checked").count()
            for text in shown.all_inner_texts()
        ), shown.all_inner_texts()
        picker.get_by_label("Loading Dock North").check()
        picker.locator("input.picker-find").fill("")
        picker.get_by_label("Front Entrance").check()
        submit(page, page.get_by_role("button", name="Map").last)

    def not_found(page):
        # The portal's 404 page, drawn by its own handler but handed to the browser here:
        # a browser run leaves no 404 in the server's log (the sweep fails on any).
        from django.http import Http404
        from django.test import RequestFactory

        from apikit.errors import not_found as handler

        html = handler(RequestFactory().get(DELIBERATE_404), Http404()).content
        page.route(f"**{DELIBERATE_404}", lambda route: route.fulfill(
            status=404, body=html, content_type="text/html; charset=utf-8"))
        expect_status(page.goto(DELIBERATE_404), 404)

    def forbidden(page):
        page.goto(f"{domain}/")
        with (
            page.expect_response(lambda r: r.url.endswith("/admins/add")) as response,
            page.expect_navigation(),
        ):
            page.evaluate(POST_ADD_ADMIN, f"{domain}/admins/add")
        expect_status(response.value, 403)

    def goto(path: str):
        return lambda page: page.goto(path)

    return [
        Visit("sign-in", "anonymous", goto("/accounts/login/")),
        Visit("sign-in: wrong password", "anonymous", wrong_password),
        Visit("password reset", "anonymous", goto("/accounts/password_reset/")),
        Visit("password reset: link sent", "anonymous", reset_sent),
        Visit("password reset: choose a new password", "anonymous", reset_choose),
        Visit("password reset: done", "anonymous", goto("/accounts/reset/done/")),
        Visit("invitation acceptance", "anonymous", goto(d["invitation"])),
        Visit("invitation acceptance: form errors", "anonymous", invitation_errors),
        Visit("invitation: link not valid", "anonymous", invitation_invalid),
        Visit("domains list", "admin", goto("/domains")),
        Visit("domains Find: not registered", "admin", find("unknown-domain.example")),
        Visit("domains Find: registered, not yours", "admin", find("beta.org")),
        Visit("domain page", "admin", goto(f"{domain}/")),
        Visit("endpoint add", "admin", goto(f"{domain}/endpoints/new")),
        Visit("endpoint add: form errors", "admin", endpoint_add_errors),
        Visit("endpoint edit", "admin", goto(f"{good}/edit")),
        Visit("endpoint edit: form errors", "admin", endpoint_edit_errors),
        Visit("endpoint delete confirmation", "admin", goto(f"{good}/delete")),
        Visit("test event result", "admin", test_event),
        Visit("signing secret", "admin", goto(f"{good}/secret")),
        Visit("signing secret: revealed", "admin", secret_revealed),
        Visit("signing secret rotate confirmation", "admin", goto(f"{good}/secret/rotate")),
        Visit("delivery log", "admin", goto(f"{domain}/deliveries")),
        Visit("delivery log: one endpoint", "admin", goto(f"{flaky}/deliveries")),
        Visit("delivery with attempts", "admin", goto(f"{domain}/deliveries/{d['failed']}")),
        Visit("delivery with attempts: curl revealed", "admin", curl_revealed),
        Visit("replay", "admin", goto(f"{flaky}/replay")),
        Visit("replay: counted", "admin", replay_count),
        Visit("replay progress", "admin", replay_progress),
        Visit("admins: co-admin added", "admin", co_admin_added),
        Visit("audit log", "admin", goto(f"{domain}/audit")),
        Visit("API tokens", "admin", goto("/account/tokens")),
        Visit("account", "admin", goto("/accounts/password_change/")),
        Visit("API tokens: new token shown", "admin", new_token),
        Visit("incidents", "admin", goto(f"{domain}/incidents")),
        Visit("counter history", "admin", goto(f"{domain}/cameras/{d['camera']}/counters")),
        Visit("PACS integrations list", "admin", goto("/integrations/pacs")),
        Visit("PACS integration", "admin", goto(integration)),
        Visit("PACS integration: new token shown", "admin", pacs_new_token),
        Visit("PACS door-to-camera mapping: mapped", "admin", pacs_mapping),
        Visit("PACS integration delete confirmation", "admin", goto(f"{integration}/delete")),
        Visit("PACS token rotate confirmation", "admin", goto(f"{integration}/tokens/rotate")),
        Visit("endpoint disable confirmation", "admin", goto(f"{good}/disable")),
        Visit("404 page", "admin", not_found),
        Visit("403 page", "co-admin", forbidden),
        Visit(
            "support admin: endpoint change page",
            "support",
            goto(reverse("admin:callbacks_endpoint_change", args=[d["good_pk"]])),
        ),
        Visit(
            "support admin: delivery change page",
            "support",
            goto(reverse("admin:callbacks_delivery_change", args=[d["failed"]])),
        ),
        Visit("support admin: delivery list", "support",
              goto(reverse("admin:callbacks_delivery_changelist"))),
    ]


SIGN_IN = {
    "anonymous": None,
    "admin": lambda page: sign_in(page, "hq@acme.com"),
    "co-admin": lambda page: sign_in(page, "guard@acme.com"),
    "support": lambda page: sign_in_to_admin(page, "staff@camio-support.net"),
}


def report(problems: list[tuple[str, int, str]], pages: list[str], seconds: float) -> str:
    lines = [
        f"Page sweep: {len(pages)} pages at {' and '.join(f'{w}x{h}' for w, h in VIEWPORTS)} "
        f"in {seconds:.0f} s; {len(problems)} problem(s) on "
        f"{len({p for p, _, _ in problems})} page(s)."
    ]
    for name in pages:
        found = [(width, what) for page, width, what in problems if page == name]
        if found:
            lines.append("")
            lines.append(name)
            lines.extend(f"  {width} px: {what}" for width, what in found)
    return "\n".join(lines)


def take_screenshot(page: Any, name: str, width: int) -> None:
    """Every page at every width, as ``.test-data/shots/<page>-<width>.png``."""
    from tests.support.screens import screenshot, shot_name

    screenshot(page, shot_name(name, width))
