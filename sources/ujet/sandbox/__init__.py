"""A local fake UJET tenant that speaks the documented manager API (see server.py)."""
