"""Choices ccelt makes about the warehouse from configuration alone."""

from __future__ import annotations

import importlib.util

import dlt
import pytest
from dlt.common.destination import Destination

from pipelines.warehouse import (
    WarehouseSettingError,
    loader_file_format,
    unreachable,
    warehouse_destination,
)

KEY = "DESTINATION__WAREHOUSE__LOADER_FILE_FORMAT"


def duckdb() -> Destination:
    return dlt.destination("warehouse", destination_type="duckdb")


def postgres() -> Destination:
    return dlt.destination("warehouse", destination_type="postgres")


def test_duckdb_loads_jsonl_and_postgres_keeps_its_own_default_unless_configured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY, raising=False)

    assert loader_file_format(duckdb()) == "jsonl"
    assert loader_file_format(postgres()) is None


def test_a_configured_format_the_engine_loads_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "insert_values")

    assert loader_file_format(duckdb()) == "insert_values"


def test_a_format_the_engine_does_not_load_names_the_key_and_the_choices(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "jsonl")

    with pytest.raises(WarehouseSettingError) as error:
        loader_file_format(postgres())

    assert "destination.warehouse.loader_file_format" in str(error.value)
    assert "postgres does not load" in str(error.value) and "insert_values" in str(error.value)


def test_parquet_without_pyarrow_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "parquet")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a))

    with pytest.raises(WarehouseSettingError, match="pip install pyarrow"):
        loader_file_format(duckdb())


def test_a_duckdb_file_that_cannot_be_opened_is_named_with_duckdb_s_own_reason(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no such folder" / "ccelt.duckdb"
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", str(missing))
    monkeypatch.delenv("DESTINATION__WAREHOUSE__DESTINATION_TYPE", raising=False)
    destination = warehouse_destination()
    pipeline = dlt.pipeline("unopenable", destination=destination, dataset_name="raw",
                            pipelines_dir=str(tmp_path / "pipelines"))

    with pytest.raises(Exception) as failed:
        pipeline.run([{"id": 1}], table_name="t")
    clear = unreachable(failed.value, destination)

    assert clear is not None
    assert str(clear).startswith(
        f'cannot use the warehouse duckdb ({missing}): IO Error: Cannot open file "{missing}":'
        " No such file or directory. Check destination.warehouse.credentials")
    assert "Please check if you configured" not in str(clear)
