"""`torchdash cache` and `torchdash cache clear`: the on-disk cache of decoded data, read
straight from its folder (TORCHDASH_CACHE_DIR) with the server's settings; no server needed,
and no torch: the folder's layout is trainer/data/cache_store.py's, which imports none."""

from __future__ import annotations

import json
from datetime import datetime

from app.cli.output import table
from app.cli.units import size
from app.settings import Settings
from trainer.data.cache_store import CacheStore, Entry


def cache_command(settings: Settings, action: str, as_json: bool = False) -> int:
    """List the entries (most recently used first) with the total against the limit, or clear."""
    store = CacheStore(settings.cache_path, settings.cache_limit_mb << 20)
    if action == "clear":
        removed = store.clear()
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'} from {store.root}")
        return 0
    entries = store.entries()
    total = store.total_bytes()
    if as_json:
        print(json.dumps({
            "folder": str(store.root),
            "limit_bytes": store.limit_bytes,
            "total_bytes": total,
            "entries": [_entry_json(key, item) for key, item in entries],
        }, indent=2))  # fmt: skip
        return 0
    rows = [
        [item.describe, size(item.nbytes), _when(item.last_used)]
        if isinstance(item, Entry)
        else [f"unreadable entry {key} ({item})", "", ""]
        for key, item in entries
    ]
    if rows:
        print(table(["data set", "size", "last used"], rows))
    state = "off (TORCHDASH_CACHE_LIMIT_MB=0)" if settings.cache_limit_mb == 0 else ""
    print(
        f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {size(total)} of "
        f"{size(store.limit_bytes)} in {store.root} {state}".rstrip()
    )
    return 0


def _entry_json(key: str, item: Entry | Exception) -> dict[str, object]:
    if not isinstance(item, Entry):
        return {"key": key, "error": str(item)}
    return {
        "key": key,
        "data": item.describe,
        "bytes": item.nbytes,
        "last_used": datetime.fromtimestamp(item.last_used).astimezone().isoformat(),
    }


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")
