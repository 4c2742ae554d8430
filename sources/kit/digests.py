"""Recognising records the lookback reads again unchanged, so that they are not loaded again.

Every run re-reads the last `lookback` seconds before its cursors, for records the vendor
commits late. Most of what it re-reads was loaded by the run before, exactly as it is now;
loading it again would cost a load and make the transforms rebuild the days those records
touch, for nothing. So each run remembers a digest of every record it read inside that
window (records are read oldest first, so the window is the newest part of what was read),
keeps the digests in the resource's dlt state, committed with the rows they describe, and
the next run skips a record whose digest it already has. A late commit changes the record,
so its digest differs and it is loaded; a record seen for the first time is loaded.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, Optional

import orjson

from sources.kit.pages import Record


def digest(record: Record) -> str:
    """A short fingerprint of everything the record would load (its prepared form)."""
    body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(body, digest_size=12).hexdigest()


class RecentReads:
    """Digests of the records read within `lookback` of the newest time seen, per id.

    Args:
        saved: what `saved()` returned at the end of the previous run (from dlt state).
        lookback: the window the next run reads again.
        fields: the time fields that put a record in the window (a record stays while any
            of them is within `lookback` of the newest time seen in that field).
    """

    def __init__(self, saved: Optional[dict[str, Any]], lookback: timedelta,
                 fields: tuple[str, ...]) -> None:
        self.lookback = lookback
        self.fields = fields
        self._previous: dict[str, str] = dict((saved or {}).get("digests", {}))
        self._entries: dict[str, tuple[str, dict[str, datetime]]] = {}
        self._newest: dict[str, datetime] = {}

    def unchanged(self, record_id: Any, record: Record) -> bool:
        """The previous run loaded this record exactly as it is now. Remembers its digest
        while it is inside the window as read so far.

        The digest (a hash of the whole record) is computed only where it can matter: the
        previous run remembered this id, or the record is inside the window. The newest
        time seen only grows, so a record outside the window now is outside it at the end:
        a backfill hashes only its last `lookback`, not every record it reads.
        """
        key = str(record_id)
        times = {f: v for f in self.fields if isinstance(v := record.get(f), datetime)}
        for field, value in times.items():
            if field not in self._newest or value > self._newest[field]:
                self._newest[field] = value
        before = self._previous.get(key)
        if not self._inside(times):
            self._entries.pop(key, None)
            return before is not None and before == digest(record)
        record_digest = digest(record)
        self._entries[key] = (record_digest, times)
        if len(self._entries) > 2 * _PRUNE_AT:
            self._prune()
        return before == record_digest

    def _inside(self, times: dict[str, datetime]) -> bool:
        return any(field in self._newest and value >= self._newest[field] - self.lookback
                   for field, value in times.items())

    def saved(self) -> dict[str, Any]:
        """What the next run needs: digests of the records inside the window, by id.

        Call it only after handing over every record it covers: a digest in committed state
        says "loaded", and the next run would skip that record.
        """
        self._prune()
        return {"digests": {key: d for key, (d, _) in self._entries.items()}}

    def _prune(self) -> None:
        kept = {key: entry for key, entry in self._entries.items() if self._inside(entry[1])}
        if len(kept) > MAX_REMEMBERED:
            # a window this full (a bulk update) is cheaper to load again than to carry in
            # state: keep the newest; the rest are loaded again next run, which loses nothing
            newest = sorted(kept.items(), key=lambda item: max(item[1][1].values()))
            kept = dict(newest[-MAX_REMEMBERED:])
        self._entries = kept


MAX_REMEMBERED = 10_000
"""Digests kept per resource at most (about 40 bytes each in state)."""
_PRUNE_AT = MAX_REMEMBERED
"""Entries after which the window is pruned while reading (twice this, in fact)."""
