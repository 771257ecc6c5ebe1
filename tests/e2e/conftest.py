"""The reference scenario recorded, relayed to the dev broker and projected: the read side the
balances, the pages and the auditor's views are tested on (read only: shared by the session)."""

import uuid
from pathlib import Path

import pytest

from commands.cli.main import main
from commands.http.settings import ServiceSettings
from tests.http_service import service_settings

SCENARIO = Path(__file__).resolve().parents[2] / "commands" / "scenarios" / "sfs_2018_151.jsonl"


@pytest.fixture(scope="session")
def projected_scenario(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> ServiceSettings:
    """SFS 2018:151 through submit, relay and project; the service's settings over it."""
    settings = service_settings(tmp_path_factory.mktemp("scenario-service"))
    topic = f"gl-service-{uuid.uuid4().hex[:10]}"
    kafka = ["--bootstrap-servers", kafka_bootstrap, "--topic", topic]
    kafka += ["--checkpoint-topic", f"{topic}.checkpoints"]
    store = ["--store", settings.store_url]
    assert main(["submit", str(SCENARIO), *store, "--format", "json"]) == 0
    assert main(["relay", "--once", *store, *kafka]) == 0
    read_side = ["--read-store", settings.read_store_url, "--replay-dir", str(settings.replay_dir)]
    assert main(["project", "--once", *read_side, *kafka]) == 0
    return settings
