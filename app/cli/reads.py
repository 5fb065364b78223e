"""`torchdash runs` on the standard library alone: one GET, the API's JSON, a table.

The Python client (httpx, the pydantic shapes) costs more to import than the whole answer takes;
a listing is what people type most, so it skips both and starts about as fast as Python itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import app.cli.output as output
from app.client.errors import ApiError

EXIT_ERROR = 2  # as the client commands: a refused request or an unreachable server
TIMEOUT_SECONDS = 30.0


def get_json(url: str, token: str | None, path: str, params: dict[str, Any]) -> Any:
    """GET `url` + `path` with `params`; the decoded JSON, or ApiError with the server's
    detail on an answer of 4xx or 5xx."""
    query = urllib.parse.urlencode(params)
    request = urllib.request.Request(f"{url.rstrip('/')}{path}?{query}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        try:
            detail = json.loads(body).get("detail", body)
        except (ValueError, AttributeError):
            detail = body or error.reason
        raise ApiError(error.code, detail) from None


def runs(args: argparse.Namespace) -> int:
    """A page of runs, filtered and sorted on the server, as a table (or the API's JSON)."""
    filters = {
        "status": args.status,
        "tag": args.tag,
        "q": args.text,
        "sort": args.sort,
        "order": args.order,
    }
    params: dict[str, Any] = {key: value for key, value in filters.items() if value}
    params.update(limit=args.limit, offset=args.offset)
    try:
        page = get_json(args.url, args.token, "/api/runs", params)
    except ApiError as error:
        print(f"torchdash: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:  # URLError, a refused connection, a timeout
        reason = getattr(error, "reason", error)
        print(f"torchdash: error: cannot reach {args.url}: {reason}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(page, indent=2))
    elif page["runs"]:
        print(output.runs_table(page["runs"]))
        shown = f"{args.offset + 1}-{args.offset + len(page['runs'])}"
        print(f"({shown} of {page['count']})")
    else:
        print("no runs")
    return 0
