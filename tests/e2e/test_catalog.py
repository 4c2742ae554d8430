"""docs/catalog.md is what `ccelt catalog` writes today: the catalog cannot drift."""

from __future__ import annotations

import difflib
from pathlib import Path

from pipelines.catalog import build_catalog

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CATALOG = PROJECT_ROOT / "docs" / "catalog.md"


def test_the_committed_catalog_is_current(isolated_dlt: Path) -> None:
    generated = build_catalog()

    committed = CATALOG.read_text(encoding="utf-8")
    difference = "".join(difflib.unified_diff(
        committed.splitlines(keepends=True), generated.splitlines(keepends=True),
        "docs/catalog.md (committed)", "ccelt catalog (now)", n=1))
    assert not difference, f"docs/catalog.md is out of date: run `ccelt catalog`\n{difference[:3000]}"


def test_the_catalog_covers_every_dataset_model_and_bookkeeping_table() -> None:
    from transforms.project import load_project

    text = CATALOG.read_text(encoding="utf-8")

    for model in load_project():
        assert f"### `{model}`" in text, model
    for table in ("_ccelt_sources", "_ccelt_watermarks", "_ccelt_state", "_dlt_loads"):
        assert f"`{table}`" in text, table
    for raw in ("ujet.calls", "ujet.calls__handle_durations", "ujet.quarantine",
                "ujet.agent_activity_logs", "ujet.menus_tree"):
        assert f"### `{raw}`" in text, raw
    assert "`ujet_staging`" in text and text.count("```mermaid") >= 2
