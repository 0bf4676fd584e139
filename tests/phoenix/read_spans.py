"""Read a project's spans back through Phoenix's own client; print them as JSON lines (Phoenix venv)."""

from __future__ import annotations

import json
import sys

from phoenix.client import Client

base_url, project = sys.argv[1], sys.argv[2]
spans = Client(base_url=base_url).spans.get_spans(project_identifier=project, limit=1000)
for s in spans:
    print(json.dumps(s, default=str))
