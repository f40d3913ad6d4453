from collections.abc import Callable, Sequence
from typing import Any

from .entry import LogEntry

Ids = Sequence[int]

def configure(
    entry_cls: type, level_cache: dict[str, str], entry_from_json: Callable[[dict[str, Any]], Any],
    loads: Callable[[bytes], Any], words: Callable[[str], list[str]], array: type,
) -> None: ...
def entries_from_lines(lines: list[bytes]) -> tuple[list[LogEntry | None], int]: ...
def gather(
    entries: list[Any], first_id: int, canon: dict[str, str], levels: dict[str, Ids],
    sources: dict[str, Ids], tags: dict[str, Ids], words: dict[str, Ids],
    tokens: list[list[str]] | None,
) -> None: ...
def direct_entry(line: bytes) -> LogEntry | None: ...
def time_order(
    in_order: Any, late: Any, ts: Any, base: int, entries: list[LogEntry] | None,
    descending: bool, start: int, stop: int,
) -> list[Any]: ...
def filter_instants(ids: Any, ts: Any, base: int, lo: float, hi: float) -> Any: ...
def ingest_blocks(
    blocks: list[bytes], first_id: int, canon: dict[str, str], levels: dict[str, Ids],
    sources: dict[str, Ids], tags: dict[str, Ids], words: dict[str, Ids],
) -> tuple[list[LogEntry], int, list[tuple[int, bytes]]]: ...
def entries_from_chunk(
    data: bytes, stamps: list[float], canon: dict[str, str]
) -> list[LogEntry] | None: ...
def parse_iso(text: str) -> float | None: ...
def split_ordered(
    first_id: int, stamps: list[float], top: float
) -> tuple[list[int], list[float], list[int]]: ...
def entries_from_rows(
    rows: list[Any], stamps: list[float], canon: dict[str, str]
) -> list[LogEntry]: ...
def encode_chunk(
    entries: list[LogEntry], dumps: Callable[..., bytes], default: Callable[[Any], Any],
    option: int,
) -> tuple[bytes, bytes]: ...
