"""Public-safe report: no cookie or token values, no bodies, no challenge payloads, no IPs.

Canary values are planted in Set-Cookie values, secret-looking headers, challenge payloads in the
body and IP-bearing headers, on every kind of path run; none may appear anywhere in the report.
"""

from __future__ import annotations

import json
import re

from botscope.scanner.observe import build_observation
from botscope.scanner.report import build_report

from tests.unit.scanner._helpers import CANARY_COOKIE_VALUE, PROFILES, fetch_result, plan_for, spec

TOKEN = "CANARYTOKEN7f3a9c"
BODY_SECRET = "CANARYBODYPAYLOAD42"
IP = "203.0.113.77"
HEADERS = {
    "content-type": "text/html",
    "server": "cloudflare",
    "cf-ray": "8a1b-FRA",
    "cf-mitigated": "challenge",
    "cf-chl-out": TOKEN,
    "x-vercel-challenge-token": TOKEN,
    "x-amzn-waf-action": "captcha",
    "x-datadome-cid": TOKEN,
    "x-client-ip": IP,
    "x-origin-response-time": f"290,{IP}",
    "x-cache": f"TCP_MISS from a{IP.replace('.', '-')}.deploy.akamaitechnologies.com (AkamaiGHost/11.5.1)",
}
BODY = (
    f"<html><head><title>Just a moment...</title></head><body><!-- {BODY_SECRET} -->"
    f"<script>window._cf_chl_opt={{cvId:'3',cHash:'{BODY_SECRET}',cUPMDTk:'/?__cf_chl_tk={TOKEN}'}};</script>"
    f"<script>var dd={{'cid':'{TOKEN}','host':'geo.captcha-delivery.com'}}</script>"
    f'<div class="g-recaptcha" data-sitekey="{TOKEN}"></div>'
    f'<form action="/login?token={TOKEN}"></form><a href="/reset?token={TOKEN}">reset</a></body></html>'
)
COOKIES = ["__cf_bm", "cf_clearance", "datadome", "_abck", "aws-waf-token", "techaro.lol-anubis-auth"]


def build() -> str:
    specs, observations = [], []
    for path in ("/", "/login"):
        for profile in PROFILES:
            run = spec(path, profile, critical=path != "/", category="login" if path != "/" else "target")
            specs.append(run)
            observations.append(
                build_observation(run, fetch_result(403, HEADERS, BODY, set_cookie=COOKIES, path=path))
            )
    robots = spec("/robots.txt")
    specs.append(robots)
    observations.append(
        build_observation(
            robots,
            fetch_result(
                200,
                {"content-type": "text/plain", "set-cookie": f"sid={CANARY_COOKIE_VALUE}"},
                "User-agent: GPTBot\nDisallow: /\n",
                path="/robots.txt",
            ),
        )
    )
    report = build_report(
        plan_for(specs), observations, scan_job_id="scan_safe", started_at=None, completed_at=None
    )
    return json.dumps(report)


def test_no_cookie_or_token_values_in_report() -> None:
    text = build()
    assert CANARY_COOKIE_VALUE not in text
    assert TOKEN not in text
    assert TOKEN.lower() not in text.lower()


def test_no_body_or_challenge_payload_in_report() -> None:
    text = build()
    assert BODY_SECRET.lower() not in text.lower()
    assert "cf_chl_tk=" not in text and "<script" not in text


def test_no_ip_addresses_in_report() -> None:
    text = build()
    assert IP not in text and IP.replace(".", "-") not in text
    assert not re.search(r"\b(?:\d{1,3}\.){3}\d{1,3}\b", text)


def test_evidence_names_signals_only() -> None:
    report = json.loads(build())
    evidence = [e for d in report["detections"] for e in d["evidence"]] + [
        e for f in report["findings"] for e in f["evidence"]
    ]
    assert evidence
    assert {e["signal"] for e in evidence} <= {
        "header",
        "cookie",
        "body",
        "script",
        "status",
        "policy",
        "title",
    }
    assert {"signal": "cookie", "name": "__cf_bm"} in evidence
    assert {"signal": "header", "name": "cf-mitigated"} in evidence
