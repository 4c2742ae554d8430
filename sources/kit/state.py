"""dlt state as a source sees it, also when the source is built outside a pipeline."""

from __future__ import annotations

from typing import Any, Optional

import dlt
from dlt.common.exceptions import PipelineStateNotAvailable


def pipeline_source_state() -> Optional[dict[str, Any]]:
    """The running source's dlt state, or None when no pipeline runs it (a unit test)."""
    try:
        return dlt.current.source_state()  # type: ignore[return-value]
    except PipelineStateNotAvailable:
        return None
