"""The SQL examples of the README and docs, as users read them."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


def sql_blocks(document: Path) -> list[str]:
    """Every fenced ```sql block of `document`, in order."""
    return re.findall(r"```sql\n(.*?)```", document.read_text(), flags=re.S)
