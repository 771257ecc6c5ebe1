"""Log lines of the long-running processes: one JSON object a line, never a credential."""

import io
import logging

import orjson

from ledger.infrastructure.operations.log_lines import configure_logging, redact


def test_a_json_line_has_time_level_process_message_and_fields() -> None:
    stream = io.StringIO()
    configure_logging("relay", "json", stream=stream)

    logging.getLogger("grant_ledger.relay").warning(
        "waiting for Kafka at %s", "kafka:9092", extra={"position": 42, "topic": "t"}
    )

    [line] = stream.getvalue().splitlines()
    record = orjson.loads(line)
    assert record["level"] == "warning"
    assert record["process"] == "relay"
    assert record["message"] == "waiting for Kafka at kafka:9092"
    assert record["fields"] == {"position": 42, "topic": "t"}
    assert record["time"].endswith("+00:00")


def test_credentials_in_urls_are_redacted_in_both_formats() -> None:
    url = "postgresql://ledger:hunter2@db:5432/grant_ledger"
    for log_format in ("json", "text"):
        stream = io.StringIO()
        configure_logging("projector", log_format, stream=stream)
        logging.getLogger("grant_ledger").error("cannot reach %s", url, extra={"store": url})
        said = stream.getvalue()
        assert "hunter2" not in said
        assert "postgresql://ledger:***@db:5432/grant_ledger" in said


def test_redact_leaves_urls_without_credentials_alone() -> None:
    assert redact("sqlite:///tmp/x.db and kafka:9092") == "sqlite:///tmp/x.db and kafka:9092"
    assert redact("https://user:pw@idp/x") == "https://user:***@idp/x"


def test_the_kafka_client_never_logs_below_warning() -> None:
    # kafka-python logs its whole configuration, password included, at DEBUG.
    configure_logging("relay", "text", stream=io.StringIO(), level=logging.DEBUG)
    assert logging.getLogger("kafka").getEffectiveLevel() == logging.WARNING
