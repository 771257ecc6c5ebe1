"""`python -m schemas.publish --release`: older released versions stay published, on disk."""

from pathlib import Path

from schemas import publish


def test_older_released_versions_stay_published(tmp_path: Path) -> None:
    old = tmp_path / publish.BASELINE / "events" / "GrantWithdrawn.v1.schema.json"
    old.parent.mkdir(parents=True)
    old.write_text('{"title": "withdrawn"}\n', encoding="utf-8")
    old_command = tmp_path / publish.BASELINE / "commands" / "WithdrawGrant.v1.schema.json"
    old_command.parent.mkdir(parents=True)
    old_command.write_text("{}\n", encoding="utf-8")
    generated = publish.generate(tmp_path)
    assert generated["events/GrantWithdrawn.v1.schema.json"] == '{"title": "withdrawn"}\n'
    assert "commands/WithdrawGrant.v1.schema.json" not in generated
    publish.release_baseline(tmp_path)
    assert old.read_text(encoding="utf-8") == '{"title": "withdrawn"}\n', "kept on release"
