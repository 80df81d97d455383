"""The rendered profile's pure parts: plan, rule signal kinds, verdicts, launch flags."""

from __future__ import annotations

from pathlib import Path

import yaml
from botscope.scanner.analysis import rendered_verdicts
from botscope.scanner.model import (
    Observation,
    PathRunSpec,
    RenderedObservation,
    RenderedWidget,
    RuleMatch,
)
from botscope.scanner.plan import REQUEST_BUDGET, build_plan
from botscope.scanner.probe.browser import chromium_args
from botscope.scanner.rules_engine import RULES_DIR, ResponseFeatures, load_ruleset
from botscope.scanner.targets import normalize_target

TARGET = normalize_target("https://shop.example/")
ROBOTS_AI_DISALLOW = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: ChatGPT-User\nDisallow: /\n"


def _links_page(paths: list[str]) -> object:
    from botscope.scanner.model import FetchResult

    body = "".join(f'<a href="{p}">x</a>' for p in paths).encode()
    return FetchResult(
        url=TARGET.url, final_url=TARGET.url, status=200, body=body, headers=[("content-type", "text/html")]
    )


def test_quick_plan_renders_the_target_only_and_full_each_critical_path_once() -> None:
    quick = build_plan(TARGET, "quick", render=True)
    assert [(r.path, r.category) for r in quick.path_runs if r.profile == "rendered"] == [("/", "target")]
    page = _links_page(["/login", "/signup", "/cart", "/contact"])
    full = build_plan(TARGET, "full", page=page, render=True)  # type: ignore[arg-type]
    rendered = [r.path for r in full.path_runs if r.profile == "rendered"]
    assert rendered == ["/", *full.discovered_paths] and len(set(rendered)) == len(rendered)
    assert all(r.critical for r in full.path_runs if r.profile == "rendered" and r.path != "/")
    # the never-existing path is random per plan: compare everything else
    plain = build_plan(TARGET, "full", page=page)  # type: ignore[arg-type]
    assert [r for r in plain.path_runs if r.kind != "probe"] == [
        r for r in full.path_runs if r.profile != "rendered" and r.kind != "probe"
    ]


def test_rendering_keeps_the_plan_inside_the_request_budget() -> None:
    many = (
        [f"/login/{i}" for i in range(6)]
        + [f"/signup/{i}" for i in range(6)]
        + [f"/contact/{i}" for i in range(6)]
    )
    for budget in (REQUEST_BUDGET, 40, 20):
        plan = build_plan(
            TARGET,
            "full",
            page=_links_page(many),
            render=True,  # type: ignore[arg-type]
            request_budget=budget,
        )
        # every path run costs one request (a rendered one its document), plus discovery
        assert len(plan.path_runs) + 2 <= budget


def test_rendered_signal_kinds_are_rule_data(tmp_path: Path) -> None:
    for path in RULES_DIR.iterdir():
        if path.suffix in (".yaml", ".json"):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "examplebm.yaml").write_text(
        yaml.safe_dump(
            {
                "vendor": "examplebm",
                "name": "Example bot manager",
                "rules": [
                    {
                        "id": "examplebm.sensor",
                        "product": "Sensor",
                        "measure": "fingerprinting",
                        "layer": "client",
                        "strength": "medium",
                        "references": ["test"],
                        "min_score": 2.0,
                        "matchers": [
                            {"type": "js_cookie", "pattern": "^_ex_sensor$", "weight": 1.0, "required": True},
                            {"type": "api_probe", "pattern": "^canvas_readback$", "weight": 1.0},
                            {"type": "widget", "pattern": "^recaptcha$", "weight": 1.0, "exclude": True},
                        ],
                    }
                ],
            }
        )
    )
    ruleset = load_ruleset(tmp_path)
    hit = ResponseFeatures(status=200, js_cookie_names=["_ex_sensor"], api_probes=["canvas_readback"])
    matches = [m for m in ruleset.match(hit) if m.vendor == "examplebm"]
    assert [(e.signal, e.name) for e in matches[0].evidence] == [
        ("js_cookie", "_ex_sensor"),
        ("api_probe", "canvas_readback"),
    ]
    # an HTTP-only response has no rendered evidence: the rule cannot fire
    assert not [
        m
        for m in ruleset.match(ResponseFeatures(status=200, cookie_names=["_ex_sensor"]))
        if m.vendor == "examplebm"
    ]
    excluded = ResponseFeatures(
        status=200, js_cookie_names=["_ex_sensor"], api_probes=["canvas_readback"], widgets=["recaptcha"]
    )
    assert not [m for m in ruleset.match(excluded) if m.vendor == "examplebm"]


def _obs(profile: str, outcome: str, path: str = "/", category: str = "target", **kw: object) -> Observation:
    return Observation(
        spec=PathRunSpec(path=path, profile=profile, category=category),  # type: ignore[arg-type]
        outcome=outcome,
        **kw,
    )  # type: ignore[arg-type]


def test_verdict_challenge_clears_for_a_browser_and_blocks_declared_ai() -> None:
    rendered = RenderedObservation(challenge_shown=True, challenge_cleared=True, cleared_after_ms=600)
    runs = [
        _obs("browser", "challenged"),
        _obs("ai_crawler", "challenged"),
        _obs("ai_agent", "blocked"),
        _obs("rendered", "served", rendered=rendered),
    ]
    entry = rendered_verdicts(runs, ROBOTS_AI_DISALLOW)[0]
    assert entry["verdicts"] == [
        {
            "verdict": "challenge_clears_for_browser",
            "status": "enforced",
            "stopped_profiles": ["ai_crawler", "ai_agent"],
            "cleared_after_ms": 600,
        }
    ]
    undeclared = rendered_verdicts(runs, "User-agent: *\nAllow: /\n")[0]["verdicts"][0]
    assert undeclared["status"] == "undeclared_block"


def test_verdict_challenge_blocks_even_a_browser() -> None:
    rendered = RenderedObservation(challenge_shown=True, challenge_cleared=False, budget_exhausted=True)
    entry = rendered_verdicts([_obs("rendered", "challenged", rendered=rendered)], None)[0]
    assert entry["verdicts"] == [{"verdict": "challenge_blocks_browser", "status": "inconclusive"}]


def test_verdict_fingerprinted_needs_two_apis_and_a_served_page() -> None:
    one = RenderedObservation(api_probes={"canvas_readback": 1})
    two = RenderedObservation(
        api_probes={"canvas_readback": 1, "webgl_parameters": 3, "permissions_query": 1}
    )
    assert rendered_verdicts([_obs("rendered", "served", rendered=one)], None)[0]["verdicts"] == []
    entry = rendered_verdicts([_obs("rendered", "served", rendered=two)], None)[0]
    assert entry["verdicts"] == [
        {"verdict": "served_but_fingerprinted", "apis": ["canvas_readback", "webgl_parameters"]}
    ]
    assert entry["fingerprinting_apis"] == {"canvas_readback": 1, "webgl_parameters": 3}
    assert rendered_verdicts([_obs("rendered", "challenged", rendered=two)], None)[0]["verdicts"] == []


def test_verdict_captcha_after_js_on_login_only() -> None:
    injected = RenderedObservation(widgets=[RenderedWidget(kind="turnstile", form="/login", after_load=True)])
    served = RenderedObservation(widgets=[RenderedWidget(kind="turnstile", form="/login", after_load=False)])
    search = RenderedObservation(widgets=[RenderedWidget(kind="turnstile", form="/search", after_load=True)])
    captcha = RuleMatch(
        rule_id="turnstile.widget",
        vendor="turnstile",
        measure="captcha",
        layer="application",
        strength="strong",
        score=1.0,
    )
    entry = rendered_verdicts(
        [
            _obs("browser", "served", "/login", "login", matches=[captcha]),
            _obs("rendered", "served", "/login", "login", rendered=injected),
        ],
        None,
    )[0]
    assert entry["verdicts"] == [
        {
            "verdict": "captcha_after_js",
            "widget": "turnstile",
            "form": "/login",
            "http_only_saw_captcha": True,
        }
    ]
    assert (
        rendered_verdicts([_obs("rendered", "served", "/login", "login", rendered=served)], None)[0][
            "verdicts"
        ]
        == []
    )
    assert (
        rendered_verdicts([_obs("rendered", "served", "/", "target", rendered=search)], None)[0]["verdicts"]
        == []
    )


def test_failed_render_is_inconclusive() -> None:
    entry = rendered_verdicts([_obs("rendered", "error")], None)[0]
    assert entry["verdicts"] == [{"verdict": "inconclusive", "detail": "the rendered run failed"}]


def test_launch_flags_send_everything_through_the_proxy() -> None:
    args = chromium_args("http://127.0.0.1:4321")
    assert "--proxy-server=http://127.0.0.1:4321" in args
    assert "--proxy-bypass-list=<-loopback>" in args
    assert "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1" in args
    for flag in (
        "--disable-quic",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        assert flag in args
    assert not [a for a in args if a.startswith("--user-data-dir")]  # Playwright makes a fresh one per launch
