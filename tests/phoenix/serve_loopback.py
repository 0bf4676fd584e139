"""Start Arize Phoenix with its gRPC receiver bound to 127.0.0.1 (Phoenix binds it to all interfaces).

Run with the Phoenix venv's Python: ``.venv-phoenix/bin/python tests/phoenix/serve_loopback.py serve``.
HTTP host/port come from PHOENIX_HOST/PHOENIX_PORT as usual.
"""

from __future__ import annotations

import sys

import grpc.aio

_orig = grpc.aio.server


def _loopback_server(*args, **kwargs):
    server = _orig(*args, **kwargs)
    add = server.add_insecure_port
    add_secure = server.add_secure_port
    server.add_insecure_port = lambda address: add(address.replace("[::]", "127.0.0.1"))
    server.add_secure_port = lambda address, creds: add_secure(address.replace("[::]", "127.0.0.1"), creds)
    return server


grpc.aio.server = _loopback_server

from phoenix.server.main import main  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "phoenix"
    sys.exit(main())
