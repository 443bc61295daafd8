"""The one rule for identifiers clients choose (user, session, experiment and event ids)."""

from __future__ import annotations

# Letters, digits and . _ : @ - (checked by pydantic-core's regex engine in schemas: this
# runs for every event of every batch, and `$` there really means the end, newline or not).
ID_PATTERN = r"^[A-Za-z0-9._:@\-]+$"
# The longest client-chosen id (columns hold 128 characters; event ids 64).
MAX_ID_CHARS = 128
