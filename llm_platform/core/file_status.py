"""The state machine of an uploaded file, one value per state (stored in `files.status` and
sent as `status` on the wire, unchanged)::

    queued --(a worker leases it)--> processing --> ready
      ^                                  |     \\--> failed --(uploaded again)--> queued
      +--(shutdown, expired lease, retry)+
"""

from __future__ import annotations

from enum import StrEnum


class FileStatus(StrEnum):
    QUEUED = "queued"  # waiting for a worker
    PROCESSING = "processing"  # leased by a worker (until `lease_until`)
    READY = "ready"  # extracted, chunked, embedded: retrievable
    FAILED = "failed"  # gave up (`error` says why); uploading it again retries


# Not yet retrievable, still on its way.
UNFINISHED: tuple[FileStatus, ...] = (FileStatus.QUEUED, FileStatus.PROCESSING)
