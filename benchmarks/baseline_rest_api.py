"""The baselines of target 3: dlt's generic `rest_api` source over the same tenant.

What a data engineer would write for the same tenant: HTTP basic auth, page-number paging
at the page size ccelt uses, every endpoint ccelt reads, DuckDB. Two ways:

* default (`BASELINE_TUNED` unset): dlt's defaults, as a first try would run it;
* tuned (`BASELINE_TUNED=1`): what dlt's performance guide suggests, as a user who read it
  would run it: parallelized resources, the loader file format `BASELINE_FORMAT` (jsonl,
  or parquet where dlt cannot load jsonl), and (set by the caller's environment)
  `EXTRACT__WORKERS=8`, `NORMALIZE__WORKERS=2`.

Run as `python -m benchmarks.baseline_rest_api`; reads BASELINE_BASE_URL,
BASELINE_USERNAME, BASELINE_PASSWORD and BASELINE_DUCKDB from the environment, prints
`records: N` (rows of the contact and activity tables, nested lists not counted).
"""

from __future__ import annotations

import os
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source

PAGE_SIZE = 100
ONE_SHOT = {"type": "single_page"}
ENDPOINTS: dict[str, dict[str, Any]] = {
    # every endpoint `ccelt run ujet` reads, with the same parameters
    "calls": {"path": "calls"},
    "chats": {"path": "chats"},
    "emails": {"path": "emails"},
    "agent_activity_logs": {"path": "agent_activity_logs"},
    "agents": {"path": "agents"},
    "menus": {"path": "menus", "params": {"with_deleted": "true"}},
    "teams": {"path": "teams", "params": {"with_deleted": "true"}},
    "user_statuses": {"path": "user_statuses", "paginator": ONE_SHOT},
    "menus_tree": {"path": "menus/tree", "paginator": ONE_SHOT},
    "teams_tree": {"path": "teams/tree", "paginator": ONE_SHOT},
    "agents_current_status": {"path": "agents/current_status", "paginator": ONE_SHOT},
    "menus_current_status": {"path": "menus/current_status", "paginator": ONE_SHOT},
    "menus_sla_call": {"path": "menus/sla", "params": {"channel": "call", "minutes": 15},
                       "paginator": ONE_SHOT},
    "menus_sla_chat": {"path": "menus/sla", "params": {"channel": "chat", "minutes": 15},
                       "paginator": ONE_SHOT},
    "queue_groups_sla_call": {"path": "menus/sla_by_queue_groups",
                              "params": {"channel": "call", "minutes": 15}, "paginator": ONE_SHOT},
    "queue_groups_sla_chat": {"path": "menus/sla_by_queue_groups",
                              "params": {"channel": "chat", "minutes": 15}, "paginator": ONE_SHOT},
}
COUNTED = ("calls", "chats", "emails", "agent_activity_logs")
"""The records counted, as for ccelt: the contacts and activity rows, nearly all of the data
(both programs load every endpoint; the small lists' rows are not counted on either side)."""


def baseline_source(base_url: str, username: str, password: str,
                    tuned: bool = False) -> dlt.sources.DltSource:
    defaults: dict[str, Any] = {"endpoint": {"params": {"per": PAGE_SIZE}}}
    if tuned:
        defaults["parallelized"] = True
    return rest_api_source({
        "client": {
            "base_url": base_url,
            "auth": {"type": "http_basic", "username": username, "password": password},
            "paginator": {"type": "page_number", "base_page": 1, "page_param": "page",
                          "total_path": None},
        },
        "resource_defaults": defaults,
        "resources": [{"name": name, "endpoint": endpoint} for name, endpoint in ENDPOINTS.items()],
    })


def main() -> None:
    tuned = os.environ.get("BASELINE_TUNED") == "1"
    pipeline = dlt.pipeline(pipeline_name="rest_api_baseline", dataset_name="baseline",
                            destination=dlt.destinations.duckdb(os.environ["BASELINE_DUCKDB"]))
    source = baseline_source(os.environ["BASELINE_BASE_URL"], os.environ["BASELINE_USERNAME"],
                             os.environ["BASELINE_PASSWORD"], tuned)
    pipeline.run(source, loader_file_format=os.environ.get("BASELINE_FORMAT", "jsonl") if tuned else None)
    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = normalized.row_counts if normalized else {}
    print(f"records: {sum(counts.get(name, 0) for name in COUNTED)}")


if __name__ == "__main__":
    main()
