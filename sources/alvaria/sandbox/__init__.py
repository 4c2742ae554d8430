"""A fake Alvaria Cloud organisation, served on 127.0.0.1 (`ccelt sandbox alvaria`)."""
