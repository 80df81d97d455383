"""``botscope`` command line, for people and pipelines::

    botscope scan URL [--mode full|quick] [--format text|json|markdown|html|sarif|junit]
                      [--output FILE] [--fail-on CONDITION]... [--allow-private CIDR]

Runs the same engine as the service, with no AWS. Progress goes to stderr (one live line on a
terminal, plain lines otherwise); the report goes to stdout or ``--output`` (``json`` is exactly
the API's report object). The default mode is ``full``, as in the API and the MCP tool.

Exit codes: 0 completed scan and no ``--fail-on`` condition met; 1 the scan could not be run;
2 rejected target or bad usage; 3 a ``--fail-on`` condition was met; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import shutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from botscope.errors import BotScopeError, InvalidTarget, TargetNotPublic
from botscope.reporting.formats import CONDITION_HELP, Condition, parse_condition
from botscope.scanner.vocabulary import SCAN_MODES

EXIT_OK, EXIT_FAILED, EXIT_REJECTED, EXIT_CONDITION_MET, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
FORMATS = ("text", "json", "markdown", "html", "sarif", "junit")
EPILOG = """exit codes:
  0    the scan completed and no --fail-on condition was met
  1    the scan could not be run
  2    the target was rejected (invalid, or not public without --allow-private) or bad usage
  3    a --fail-on condition was met (the report is still written)
  130  interrupted (Ctrl-C)
"""


def _cidr_list(value: str) -> list[str]:
    cidrs = [part.strip() for part in value.split(",") if part.strip()]
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a CIDR range: {cidr!r}") from None
    return cidrs


def _condition(value: str) -> Condition:
    try:
        return parse_condition(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_fail_on(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--fail-on",
        metavar="CONDITION",
        action="append",
        type=_condition,
        default=[],
        help="exit 3 when the report meets CONDITION (repeatable): " + CONDITION_HELP,
    )


def _add_scan_command(commands: Any) -> None:
    scan = commands.add_parser(
        "scan",
        help="scan one URL and print the report",
        description="Scan one URL with every client profile and print the report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("url", help="the page to scan (http or https)")
    scan.add_argument(
        "--mode",
        choices=SCAN_MODES,
        default="full",
        help="full: the page, the policy files and discovered critical paths; quick: the page and "
        "the policy files (default: full, as in the API and the MCP tool)",
    )
    scan.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default=None,
        help="text (default): a readable summary; json: the API's report object; markdown: a job "
        "summary or pull-request comment; html: the report page; sarif: SARIF 2.1.0 for code "
        "scanning; junit: JUnit XML for CI test reports",
    )
    scan.add_argument("--json", action="store_true", help="same as --format json")
    scan.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    _add_fail_on(scan)
    scan.add_argument(
        "--allow-private",
        metavar="CIDR",
        action="append",
        type=_cidr_list,
        default=[],
        help="let the scan reach this non-public range (repeatable or comma separated; "
        "for local tests and demos). BOTSCOPE_ALLOW_PRIVATE_TARGETS adds to it.",
    )
    scan.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    scan.add_argument(
        "--render",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also load the page (full: and each critical path) in headless Chromium through the "
        "egress guard; default: on for full, off for quick (--no-render turns it off)",
    )
    scan.set_defaults(handler=_cmd_scan)


def _add_render_command(commands: Any) -> None:
    again = commands.add_parser(
        "render",
        help="render a saved JSON report in another format",
        description="Render a report saved with --format json (or fetched from "
        "GET /api/v1/scans/{id}/report) in another format, without scanning again.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    again.add_argument("report", help="the JSON report file ('-' for stdin)")
    again.add_argument("--format", "-f", choices=FORMATS, default="text", help="as for scan (default: text)")
    again.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    _add_fail_on(again)
    again.set_defaults(handler=_cmd_render, json=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botscope", description="Audit a website's anti-bot and anti-agent measures."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_scan_command(commands)
    _add_render_command(commands)
    return parser


# --- progress ------------------------------------------------------------------------------------


class Progress:
    """Path-run progress on stderr: one rewritten line on a terminal, one line per finished run
    otherwise (CI logs, pipes)."""

    def __init__(self, stream: TextIO, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.live = enabled and stream.isatty()
        self.running: dict[int, str] = {}

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        if event.kind == "planned":
            self._line(f"planned {event.total} path runs", final=True)
            return
        label = f"{event.spec.path} [{event.spec.profile}]"
        if event.kind == "started":
            self.running[event.index] = label
            if self.live:
                self._line(f"[{event.completed}/{event.total}] running {label}")
            return
        self.running.pop(event.index, None)
        obs = event.observation
        status = obs.http_status if obs.http_status is not None else "-"
        detail = obs.error.code if obs.error else f"{obs.duration_ms or 0} ms"
        message = f"[{event.completed}/{event.total}] {obs.outcome:<12} {status!s:>4}  {label}  ({detail})"
        self._line(message, final=True)
        if self.live and self.running:
            self._line(f"[{event.completed}/{event.total}] running {next(iter(self.running.values()))}")

    def _line(self, text: str, final: bool = False) -> None:
        if self.live:
            width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
            self.stream.write("\r\x1b[2K" + text[:width] + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


# --- summary -------------------------------------------------------------------------------------


def _table(rows: list[list[str]], headers: list[str]) -> str:
    cells = [headers, *rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _header_section(report: dict[str, Any]) -> list[str]:
    summary = report.get("summary") or {}
    return [
        f"BotScope report — {report.get('target_url')} ({report.get('scan_mode')} scan, "
        f"ruleset {report.get('ruleset_version')})",
        f"Posture: {summary.get('posture')}   Score: {summary.get('score')}/100",
        f"Vendors: {', '.join(summary.get('vendors') or []) or 'none detected'}",
        f"Measures: {', '.join(summary.get('measures_present') or []) or 'none'}",
    ]


def _path_runs_section(report: dict[str, Any]) -> list[str]:
    rows = [
        [
            r.get("path", ""),
            r.get("profile", ""),
            str(r.get("outcome") or "-"),
            str(r.get("http_status") or "-"),
            str(r.get("duration_ms") or "-"),
            (r.get("error") or {}).get("code", ""),
        ]
        for r in report.get("path_runs") or []
    ]
    return ["", "Path runs", _table(rows, ["path", "profile", "outcome", "status", "ms", "error"])]


def _confidence(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else str(value)


def _detections_section(report: dict[str, Any]) -> list[str]:
    detections = report.get("detections") or []
    if not detections:
        return []
    rows = [
        [
            d.get("vendor") or "-",
            d.get("product") or "-",
            d.get("measure", ""),
            d.get("layer", ""),
            _confidence(d.get("confidence")),
            ", ".join(d.get("paths") or []),
        ]
        for d in detections
    ]
    return ["", "Detections", _table(rows, ["vendor", "product", "measure", "layer", "confidence", "paths"])]


def _robots_line(robots: dict[str, Any]) -> str:
    """robots.txt: present or not, who manages it, and how many AI agents get each treatment."""
    counts: dict[str, int] = {}
    for treatment in (robots.get("ai_agents") or {}).values():
        counts[treatment] = counts.get(treatment, 0) + 1
    return (
        f"  robots.txt: {'present' if robots.get('present') else 'absent'}"
        + (f", managed by {robots['managed_by']}" if robots.get("managed_by") else "")
        + (f"; AI agents: {', '.join(f'{n} {k}' for k, n in sorted(counts.items()))}" if counts else "")
    )


def _policy_section(report: dict[str, Any]) -> list[str]:
    policy = report.get("policy") or {}
    flags = [
        name
        for name, present in (
            ("llms.txt", (policy.get("llms_txt") or {}).get("present")),
            ("ai.txt", (policy.get("ai_txt") or {}).get("present")),
            ("TDMRep", (policy.get("tdmrep") or {}).get("present")),
            ("Web Bot Auth directory", (policy.get("web_bot_auth") or {}).get("directory_present")),
        )
        if present
    ]
    return [
        "",
        "Policy",
        _robots_line(policy.get("robots_txt") or {}),
        f"  content signals: {policy.get('content_signals') or 'none'}",
        f"  other files: {', '.join(flags) or 'none'}",
    ]


def _enforcement_section(report: dict[str, Any]) -> list[str]:
    enforcement = report.get("enforcement") or []
    if not enforcement:
        return []
    rows = [
        [
            e.get("agent_profile", ""),
            e.get("path", ""),
            str(e.get("declared", "")),
            str(e.get("observed", "")),
            e.get("verdict", ""),
        ]
        for e in enforcement
    ]
    return ["", "Enforcement", _table(rows, ["profile", "path", "declared", "observed", "verdict"])]


def _findings_section(report: dict[str, Any]) -> list[str]:
    findings = report.get("findings") or []
    if not findings:
        return []
    rows = [[f.get("severity", ""), f.get("measure", ""), f.get("title", "")] for f in findings]
    return ["", "Findings", _table(rows, ["severity", "measure", "title"])]


def render_summary(report: dict[str, Any]) -> str:
    """The text format: the summary, then one section per part of the report."""
    sections = (
        _header_section,
        _path_runs_section,
        _detections_section,
        _policy_section,
        _enforcement_section,
        _findings_section,
    )
    return "\n".join(line for section in sections for line in section(report)) + "\n"


# --- commands ------------------------------------------------------------------------------------


def _cmd_scan(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from botscope.agent_identity import scan_signer
    from botscope.config import get_settings
    from botscope.ids import new_id
    from botscope.scanner.engine import run_scan
    from botscope.scanner.targets import NetworkPolicy

    cidrs = [cidr for group in args.allow_private for cidr in group]
    networks = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    try:
        from_env = get_settings().allowed_private_networks
    except ValueError:  # pydantic's ValidationError is a ValueError
        stderr.write(
            "botscope: BOTSCOPE_ALLOW_PRIVATE_TARGETS is not a comma-separated list of CIDR ranges\n"
        )
        return EXIT_REJECTED
    policy = NetworkPolicy(tuple(dict.fromkeys(networks + from_env)))
    progress = Progress(stderr, enabled=not args.quiet)
    try:
        render = args.mode == "full" if args.render is None else args.render
        report = asyncio.run(
            run_scan(
                args.url,
                args.mode,
                policy,
                on_progress=progress,
                scan_job_id=new_id("scan"),
                extra_ca_bundle=get_settings().extra_ca_bundle or None,
                signer=scan_signer(),
                render=render,
            )
        )
    except (InvalidTarget, TargetNotPublic) as exc:
        progress.close()
        stderr.write(f"botscope: {exc.code}: {exc.message}\n")
        if isinstance(exc, TargetNotPublic):
            stderr.write(
                "botscope: to scan a site on this machine or a private network, allow its range, "
                "e.g. --allow-private 127.0.0.0/8 (or BOTSCOPE_ALLOW_PRIVATE_TARGETS)\n"
            )
        return EXIT_REJECTED
    except BotScopeError as exc:
        progress.close()
        stderr.write(f"botscope: {exc.code}: {exc.message}\n")
        return EXIT_FAILED
    progress.close()
    return _write(report, args, stdout, stderr)


def _cmd_render(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    try:
        text = sys.stdin.read() if args.report == "-" else open(args.report, encoding="utf-8").read()
        report = json.loads(text)
    except (OSError, ValueError) as exc:
        stderr.write(f"botscope: cannot read a JSON report from {args.report}: {exc}\n")
        return EXIT_REJECTED
    if not isinstance(report, dict) or "path_runs" not in report:
        stderr.write(f"botscope: {args.report} is not a BotScope report\n")
        return EXIT_REJECTED
    return _write(report, args, stdout, stderr)


def _write(report: dict[str, Any], args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Writes the report in the requested format and applies the --fail-on conditions."""
    conditions: list[Condition] = list(args.fail_on)
    output_format = args.format or ("json" if args.json else "text")
    rendered = render(report, output_format, conditions)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(rendered)
        except OSError as exc:
            stderr.write(f"botscope: cannot write {args.output}: {exc.strerror}\n")
            return EXIT_FAILED
    else:
        stdout.write(rendered)
    met = [(c, why) for c in conditions if (why := c.met_by(report))]
    for condition, why in met:
        stderr.write(f"botscope: --fail-on {condition.text}: {why}\n")
    return EXIT_CONDITION_MET if met else EXIT_OK


def render(report: dict[str, Any], output_format: str, conditions: Sequence[Condition] = ()) -> str:
    """The report in one of ``FORMATS``."""
    from botscope.reporting import formats

    if output_format == "json":
        return formats.to_json(report)
    if output_format == "markdown":
        return formats.to_markdown(report, list(conditions))
    if output_format == "sarif":
        return json.dumps(formats.to_sarif(report), indent=2, ensure_ascii=False) + "\n"
    if output_format == "junit":
        return formats.to_junit(report, list(conditions))
    if output_format == "html":
        from botscope.reporting.html import render_report_page

        return render_report_page(report)
    return render_summary(report)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args, stdout or sys.stdout, stderr or sys.stderr))
    except KeyboardInterrupt:
        (stderr or sys.stderr).write("botscope: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
