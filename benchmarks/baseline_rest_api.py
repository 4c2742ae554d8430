"""The baseline of target 3: dlt's generic `rest_api` source with a straightforward config.

What a data engineer would write in ten minutes for the same tenant: HTTP basic auth,
page-number paging at the page size ccelt uses, dlt's default settings, DuckDB. It loads
the four resources that carry almost all records, so ccelt is timed on the same four.

Run as `python -m benchmarks.baseline_rest_api`; reads BASELINE_BASE_URL,
BASELINE_USERNAME, BASELINE_PASSWORD and BASELINE_DUCKDB from the environment, prints
`records: N`.
"""

from __future__ import annotations

import os

import dlt
from dlt.sources.rest_api import rest_api_source

RESOURCES = ("calls", "chats", "emails", "agent_activity_logs")
PAGE_SIZE = 100


def baseline_source(base_url: str, username: str, password: str) -> dlt.sources.DltSource:
    return rest_api_source({
        "client": {
            "base_url": base_url,
            "auth": {"type": "http_basic", "username": username, "password": password},
            "paginator": {"type": "page_number", "base_page": 1, "page_param": "page",
                          "total_path": None},
        },
        "resource_defaults": {"endpoint": {"params": {"per": PAGE_SIZE}}},
        "resources": list(RESOURCES),
    })


def main() -> None:
    pipeline = dlt.pipeline(pipeline_name="rest_api_baseline", dataset_name="baseline",
                            destination=dlt.destinations.duckdb(os.environ["BASELINE_DUCKDB"]))
    pipeline.run(baseline_source(os.environ["BASELINE_BASE_URL"], os.environ["BASELINE_USERNAME"],
                                 os.environ["BASELINE_PASSWORD"]))
    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = normalized.row_counts if normalized else {}
    print(f"records: {sum(counts.get(name, 0) for name in RESOURCES)}")


if __name__ == "__main__":
    main()
