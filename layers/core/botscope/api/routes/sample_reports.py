"""``/api/v1/sample-reports`` (no auth): the daily public sample reports, by tab."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from botscope.service import monitoring

router = APIRouter(tags=["sample-reports"])


class SampleTab(BaseModel):
    tab_id: str
    label: str
    target_url: str
    scan_job_id: str


class SampleReports(BaseModel):
    generated_on: str | None
    tabs: list[SampleTab]


@router.get("/sample-reports", response_model=SampleReports, summary="Today's public sample report tabs")
def list_sample_reports() -> dict[str, Any]:
    return monitoring.sample_reports()


@router.get("/sample-reports/{tab_id}", summary="One public sample report (the report of docs/report.md)")
def get_sample_report(tab_id: str) -> dict[str, Any]:
    return monitoring.sample_report(tab_id)
