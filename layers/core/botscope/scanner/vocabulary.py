"""The scan vocabulary: every closed set of words a scan plans with, records and reports
(docs/report.md "Vocabulary"). Each set is a ``Literal`` type plus the frozenset of its values, so
mypy checks every comparison against it and the tests check that the report schema
(docs/report.schema.json), the report view and the scanner use the same words.

Path categories of critical paths are defined with their patterns in ``critical_paths``; error
codes of the API are defined with their error classes in ``botscope.errors``.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple, get_args

# --- scans -------------------------------------------------------------------------------------------

# How much a scan probes: ``full`` (the default) the page, the policy files and the discovered
# critical paths with every client profile; ``quick`` a smaller set.
ScanMode = Literal["full", "quick"]
SCAN_MODES: Final = get_args(ScanMode)

# --- path runs ---------------------------------------------------------------------------------------

# What kind of path a path run fetched; ``probe``: the never-existing path (soft-404 baseline).
PathKind = Literal["page", "policy", "probe"]
PATH_KINDS: Final = frozenset(get_args(PathKind))

# How a path run ended. ``timed_out``: the answer did not complete within the time budget (a stall or
# a slow drip); what arrived before the deadline is not treated as served content.
Outcome = Literal[
    "served", "challenged", "blocked", "rate_limited", "redirected", "not_found", "timed_out", "error"
]
OUTCOMES: Final = frozenset(get_args(Outcome))
# The outcomes where the site stopped the client from getting the page.
STOPPED_OUTCOMES: Final[frozenset[Outcome]] = frozenset({"challenged", "blocked", "rate_limited"})
# The outcomes with no answer to compare: the run failed or the answer never completed.
NO_ANSWER_OUTCOMES: Final[frozenset[Outcome]] = frozenset({"error", "timed_out"})

# Categories of a path run that are not critical-path categories (``critical_paths``): the target
# page itself and the never-existing path. A policy file's category is its file name.
TARGET_CATEGORY: Final = "target"
NOT_FOUND_PROBE_CATEGORY: Final = "not_found_probe"


class PolicyFile(NamedTuple):
    """A policy file the scan fetches: its path on the site and its name (the path run category)."""

    path: str
    name: str


ROBOTS_TXT: Final = PolicyFile("/robots.txt", "robots.txt")
LLMS_TXT: Final = PolicyFile("/llms.txt", "llms.txt")
LLMS_FULL_TXT: Final = PolicyFile("/llms-full.txt", "llms-full.txt")
AI_TXT: Final = PolicyFile("/ai.txt", "ai.txt")
TDMREP_JSON: Final = PolicyFile("/.well-known/tdmrep.json", "tdmrep.json")
WEB_BOT_AUTH_DIRECTORY: Final = PolicyFile(
    "/.well-known/http-message-signatures-directory", "http-message-signatures-directory"
)
# Every scan fetches these; a full scan adds ``FULL_ONLY_POLICY_FILES``.
POLICY_FILES: Final = (ROBOTS_TXT, LLMS_TXT, AI_TXT, TDMREP_JSON, WEB_BOT_AUTH_DIRECTORY)
FULL_ONLY_POLICY_FILES: Final = (LLMS_FULL_TXT,)
POLICY_PATHS: Final = tuple(f.path for f in POLICY_FILES + FULL_ONLY_POLICY_FILES)

# Codes of a path run's error (``ProbeError.code``). The HTTP client and the browser probe raise
# them, the pipeline adds ``cancelled`` for a path run a cancelled scan never ran; the report lists
# them per path run and ``policy.robots_access`` reads one of them.
ProbeErrorCode = Literal[
    "timeout",
    "connection_failed",
    "connect_failed",
    "invalid_target",
    "target_not_public",
    "target_unresolvable",
    "budget_exhausted",
    "too_many_redirects",
    "signing_unavailable",
    "render_failed",
    "render_timeout",
    "render_unavailable",
    "internal_error",
    "cancelled",
]
PROBE_ERROR_CODES: Final = frozenset(get_args(ProbeErrorCode))
TIMEOUT: Final = "timeout"  # no complete answer within the time budget: the outcome ``timed_out``
TOO_MANY_REDIRECTS: Final = "too_many_redirects"

# --- enforcement (declared versus observed, per AI profile and page path) ----------------------------

# What robots.txt declares for the profile's token on the path.
Declared = Literal["allowed", "disallowed", "unspecified", "unreachable"]
DECLARED_VALUES: Final = frozenset(get_args(Declared))
# What the profile got: an outcome, or ``served_different`` (served, unlike the browser's content).
Observed = Literal[Outcome, "served_different"]
OBSERVED_VALUES: Final = frozenset(get_args(Outcome)) | {"served_different"}
Verdict = Literal[
    "consistent",
    "enforced",
    "declared_not_enforced",
    "undeclared_block",
    "differential_content",
    "browser_challenged",
    "inconclusive",
]
VERDICTS: Final = frozenset(get_args(Verdict))
# Verdicts where the site stopped the profile itself (user-agent rules), with or without a vendor.
STOPPING_VERDICTS: Final[frozenset[Verdict]] = frozenset({"enforced", "undeclared_block"})
# Verdicts that raise no enforcement finding.
QUIET_VERDICTS: Final[frozenset[Verdict]] = frozenset({"consistent", "inconclusive"})

# Verdicts only the rendered profile (a real browser) supports (docs/report.md "Rendered").
RenderedVerdict = Literal[
    "challenge_clears_for_browser",
    "challenge_blocks_browser",
    "served_but_fingerprinted",
    "captcha_after_js",
    "inconclusive",
]
RENDERED_VERDICTS: Final = frozenset(get_args(RenderedVerdict))

# --- findings ----------------------------------------------------------------------------------------

# In rising order: the report's ``findings_by_severity`` lists them in this order.
Severity = Literal["info", "low", "medium", "high"]
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
FindingStatus = Literal["present", "absent", "inconclusive"]
FINDING_STATUSES: Final = frozenset(get_args(FindingStatus))
FindingCategory = Literal["detection", "policy", "enforcement", "coverage", "scan"]
FINDING_CATEGORIES: Final = frozenset(get_args(FindingCategory))

# --- summary -----------------------------------------------------------------------------------------

# How many defense layers were seen (``unknown``: every browser run failed, nothing to compare with).
Posture = Literal["unknown", "none", "basic", "layered", "hardened"]
POSTURES: Final = frozenset(get_args(Posture))
# What the browser profile met on the page paths: an answer, only stops, or no answer at all.
Baseline = Literal["served", "stopped", "failed"]
BASELINES: Final = frozenset(get_args(Baseline))
