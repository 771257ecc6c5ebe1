"""Render docs/audit-report.png: the reference scenario recorded as it happened (each act on
its effective date), relayed to a dev broker, reported, and photographed in headless Chromium.

    .venv/bin/python -m tests.render_report_png docs/audit-report.png
"""

import os
import sys
import tempfile
import uuid
from pathlib import Path

from commands.cli.main import main
from ledger.application.grant_ledger import GrantLedger
from ledger.config import KafkaSettings
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.signing_keys import TRUSTED_KEYS_ENV_VAR
from ledger.relay.relay import Relay
from tests.browser import chromium, full_page_png
from tests.scenario_ledger import PROGRAMME_ID, record_scenario_as_it_happened
from tests.signing import ledger_signer, session_keys

MAX_HEIGHT_PX = 4_200
WIDTH_PX = 900


def render(png: Path) -> None:
    """Record, relay, report, photograph."""
    # The report trusts only signed checkpoints: trust the key this script's relay signs with.
    os.environ[TRUSTED_KEYS_ENV_VAR] = str(session_keys().public_path)
    with tempfile.TemporaryDirectory() as directory, DevBroker() as broker:
        store = f"sqlite:///{directory}/ledger.db"
        record_scenario_as_it_happened(store)
        topic = f"docs-{uuid.uuid4().hex[:8]}"
        settings = KafkaSettings(broker.bootstrap_servers, topic, f"{topic}.checkpoints", 100, 3)
        ledger = GrantLedger(store)
        try:
            Relay(ledger, settings, broker.bootstrap_servers, ledger_signer()).run(once=True)
        finally:
            ledger.close()
        html = Path(directory) / "report.html"
        kafka = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", topic]
        checkpoints = ["--checkpoint-topic", settings.checkpoint_topic]
        args = ["audit", "report", "--programme", PROGRAMME_ID, "--out", str(html)]
        assert main([*args, "--store", store, *kafka, *checkpoints]) == 0
        browser = Path(directory)
        with chromium(browser / "profile", browser / "downloads") as driver:
            driver.get(html.as_uri())
            full_page_png(driver, png, WIDTH_PX, MAX_HEIGHT_PX)


if __name__ == "__main__":
    render(Path(sys.argv[1]))
