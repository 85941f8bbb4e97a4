"""Many webhook receivers in one process: an asyncio HTTP/1.1 server listening on many ports
of 127.0.0.1, for the tests and benchmarks that need thousands of distinct host:port
receivers without thousands of processes or threads.

Each request is answered 200 after ``--delay`` seconds (keep-alive); with ``--blackhole``
connections are accepted and never answered. ``GET /_stats`` on any port gives the count
of requests and connections so far. It prints its ports as one JSON line, then serves:

    python -m tests.alerts.many_ports --ports 100 --delay 0.05
"""

import argparse
import asyncio
import json
import os
import resource
import signal
import sys

_OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n"


class _Counts:
    requests = 0
    connections = 0


async def _serve_connection(reader, writer, delay: float, blackhole: bool) -> None:
    _Counts.connections += 1
    try:
        if blackhole:
            while await reader.read(65536):  # read whatever comes, never answer
                pass
            return
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /_stats"):
                body = json.dumps(
                    {"requests": _Counts.requests, "connections": _Counts.connections}
                ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            else:
                _Counts.requests += 1
                if delay:
                    await asyncio.sleep(delay)
                writer.write(_OK + b'{"ok": true}')
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _main(ports: int, delay: float, blackhole: bool) -> None:
    servers = [
        await asyncio.start_server(
            lambda r, w: _serve_connection(r, w, delay, blackhole),
            "127.0.0.1",
            0,
            backlog=512,
        )
        for _ in range(ports)
    ]
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ports", type=int, default=1)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--blackhole", action="store_true")
    args = parser.parse_args()
    # Thousands of listening and accepted sockets: as many descriptors as allowed.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Stopped with SIGTERM: at once, without reporting each connection still held.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        asyncio.run(_main(args.ports, args.delay, args.blackhole))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
