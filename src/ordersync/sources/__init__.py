"""Sources: read exports (xlsx, xls, csv, parquet, json) into the canonical frames.

`read_source` is the entry point; `discover_files` and `fingerprint` let the caller skip files
it has already pulled; `mapping_coverage` is what `check-config` shows.
"""

from ordersync.sources import carriers
from ordersync.sources.base import FileFingerprint, SourceRead
from ordersync.sources.files import discover_files, fingerprint, mapping_coverage, read_source

__all__ = [
    "FileFingerprint",
    "SourceRead",
    "carriers",
    "discover_files",
    "fingerprint",
    "mapping_coverage",
    "read_source",
]
