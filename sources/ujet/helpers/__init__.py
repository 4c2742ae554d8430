"""Client, paging and row functions of the UJET source; no dlt resources live here."""
