"""Render scripts/nginx_grpc.conf.template for N Mien replicas (docs/scaling.md).

    python scripts/render_nginx_conf.py --prefix /srv/mien-proxy --listen 0.0.0.0:50051 \\
        --replica 10.0.0.11:50051 --replica 10.0.0.12:50051 \\
        [--http-listen 0.0.0.0:8080 --http-replica 10.0.0.11:8080 --http-replica 10.0.0.12:8080] \\
        [--max-body 64m] [--stream-timeout 300s] [--user www-data] -o /srv/mien-proxy/nginx.conf

Creates PREFIX/tmp/* (nginx's temporary folders) and writes the config; then run
``nginx -p PREFIX -c PREFIX/nginx.conf`` (it stays in the foreground; use your service manager).
Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx_grpc.conf.template")
_ADDRESS = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")

_HTTP_BLOCK = """
    # The HTTP/JSON + WebSocket gateway (docs/gateway.md), same routing. Replicas bound to loopback
    # refuse non-loopback Host names (DNS-rebinding guard), so the proxy presents itself as localhost;
    # browser pages of other origins are refused by the replicas whatever the proxy does.
    upstream mien_http {{
        hash $mien_route_key consistent;
{servers}
        keepalive 64;
    }}

    server {{
        listen {listen};
        client_max_body_size {max_body};
        proxy_read_timeout {timeout};
        proxy_send_timeout {timeout};

        location / {{
            proxy_pass http://mien_http;
            proxy_http_version 1.1;
            proxy_set_header Host localhost;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Mien-Client $mien_client;
            proxy_next_upstream error timeout;
        }}
    }}
"""


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return value


def _servers(addresses: Sequence[str], max_fails: int, fail_timeout: str) -> str:
    return "\n".join(f"        server {a} max_fails={max_fails} fail_timeout={fail_timeout};" for a in addresses)


def render(*, prefix: Path, listen: str, replicas: Sequence[str], http_listen: str | None = None,
           http_replicas: Sequence[str] = (), max_body: str = "64m", stream_timeout: str = "300s",
           user: str | None = None, worker_processes: str = "auto", max_fails: int = 3,
           fail_timeout: str = "10s") -> str:
    """The config text for these replicas (``prefix`` holds the pid file, logs and temporary folders)."""
    if not replicas:
        raise ValueError("at least one --replica")
    if bool(http_listen) != bool(http_replicas):
        raise ValueError("--http-listen and --http-replica go together")
    http_block = ""
    if http_listen:
        http_block = _HTTP_BLOCK.format(servers=_servers(http_replicas, max_fails, fail_timeout), listen=http_listen,
                                        max_body=max_body, timeout=stream_timeout)
    values = {
        "PREFIX": str(prefix),
        "USER": f"user {user};" if user else "",
        "WORKER_PROCESSES": worker_processes,
        "GRPC_LISTEN": listen,
        "GRPC_SERVERS": _servers(replicas, max_fails, fail_timeout),
        "MAX_BODY": max_body,
        "STREAM_TIMEOUT": stream_timeout,
        "HTTP_BLOCK": http_block,
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.findall(r"\{\{[A-Z_]+\}\}", text)
    if left:
        raise ValueError(f"unfilled placeholders: {left}")
    return text


def prepare(prefix: Path) -> None:
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / name).mkdir(parents=True, exist_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", required=True, type=Path, help="folder for the pid file, logs, temporary files")
    parser.add_argument("--listen", required=True, type=_address, help="gRPC listen address HOST:PORT")
    parser.add_argument("--replica", action="append", required=True, type=_address, help="a replica's gRPC HOST:PORT")
    parser.add_argument("--http-listen", type=_address, help="also proxy the HTTP/JSON + WebSocket gateway here")
    parser.add_argument("--http-replica", action="append", default=[], type=_address,
                        help="a replica's gateway HOST:PORT (same order as --replica)")
    parser.add_argument("--max-body", default="64m", help="= the replicas' limits.max_message_bytes")
    parser.add_argument("--stream-timeout", default="300s")
    parser.add_argument("--user", help="worker user (nginx's `user` directive) when started as root")
    parser.add_argument("--worker-processes", default="auto")
    parser.add_argument("-o", "--output", type=Path, help="default: PREFIX/nginx.conf")
    args = parser.parse_args(argv)
    try:
        text = render(prefix=args.prefix.resolve(), listen=args.listen, replicas=args.replica,
                      http_listen=args.http_listen, http_replicas=args.http_replica, max_body=args.max_body,
                      stream_timeout=args.stream_timeout, user=args.user, worker_processes=args.worker_processes)
    except ValueError as error:
        parser.error(str(error))
    prepare(args.prefix.resolve())
    output = args.output or args.prefix / "nginx.conf"
    output.write_text(text, encoding="utf-8")
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
