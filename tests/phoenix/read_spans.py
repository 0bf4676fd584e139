"""Read a project's spans back through Phoenix's own client; print them as JSON lines (Phoenix venv)."""

from __future__ import annotations

import json
import sys

import httpx
from phoenix.client import Client

base_url, project = sys.argv[1], sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0  # the client's defaults (5 s, read 30 s) time out under load
http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout, connect=30.0))
spans = Client(http_client=http).spans.get_spans(project_identifier=project, limit=1000, timeout=int(timeout))
for s in spans:
    print(json.dumps(s, default=str))
