"""The rendered profile's container-image function: template entry, workflow Map branch and the
Dockerfile (pinned base, Debian chromium, no browser download)."""

from __future__ import annotations

import json
import re

import pytest
from botscope.aws.template import REPO_ROOT, TEMPLATE_PATH, load_template
from botscope.local.resources import serverless_functions

DOCKERFILE = REPO_ROOT / "functions" / "scan_render" / "Dockerfile"
ASL = REPO_ROOT / "functions" / "scan_workflow" / "scan_workflow.asl.json"


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(TEMPLATE_PATH)


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_image_function_is_declared_with_its_dockerfile(template: dict) -> None:
    resource = template["Resources"]["ScanRenderFunction"]
    props, metadata = resource["Properties"], resource["Metadata"]
    assert resource["Type"] == "AWS::Serverless::Function" and props["PackageType"] == "Image"
    assert not {"Runtime", "Handler", "Layers", "CodeUri"} & set(props)
    assert (REPO_ROOT / metadata["DockerContext"] / metadata["Dockerfile"]) == DOCKERFILE
    assert props["MemorySize"] >= 1536 and props["Timeout"] >= 60  # Chromium needs room
    assert serverless_functions(template)["ScanRenderFunction"] == DOCKERFILE.parent


def test_dockerfile_pins_its_base_and_installs_debian_chromium_without_downloading_a_browser() -> None:
    instructions = _instructions()
    bases = [arg for op, arg in instructions if op == "FROM"]
    assert len(bases) == 1
    assert re.fullmatch(r"\S+:\d+\.\d+\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", bases[0]), bases[0]
    runs = " ".join(arg for op, arg in instructions if op == "RUN")
    assert re.search(r"apt-get install -y --no-install-recommends chromium\b", runs)
    assert not any("playwright install" in arg for _op, arg in instructions)
    env = " ".join(arg for op, arg in instructions if op == "ENV")
    assert "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1" in env
    # every Python package comes pinned: the project's constraints, and the runtime client by version
    assert re.search(
        r"pip install --no-cache-dir -c constraints\.txt \"awslambdaric==\d+\.\d+\.\d+\" \"\.\[render\]\"",
        runs,
    )
    assert ("CMD", '["app.lambda_handler"]') in instructions
    assert (DOCKERFILE.parent / "app.py").exists()


def test_workflow_renders_in_its_own_narrow_map_after_the_probes(template: dict) -> None:
    states = json.loads(ASL.read_text())["States"]
    assert states["ProbePathRuns"]["Next"] == "RenderPathRuns"
    render = states["RenderPathRuns"]
    assert render["Type"] == "Map" and render["ItemsPath"] == "$.prepared.rendered_runs"
    assert 0 < render["MaxConcurrency"] <= 4 and render["Next"] == "Analyze"
    item = render["ItemProcessor"]["States"]["RenderPathRun"]
    assert item["Parameters"]["FunctionName"] == "${ScanRenderFunctionArn}"
    assert item["Catch"][0]["Next"] == "MarkRenderRunFailed"
    assert states["Prepare"]["ResultSelector"]["rendered_runs.$"] == "$.Payload.rendered_runs"
    assert render["Catch"][0]["Next"] == "MarkFailed"
    substitutions = template["Resources"]["ScanWorkflow"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions["ScanRenderFunctionArn"] == {"Fn::GetAtt": ["ScanRenderFunction", "Arn"]}
