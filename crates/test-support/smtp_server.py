#!/usr/bin/env python3
"""A real SMTP server on loopback for the mail tests, on aiosmtpd.

Usage: smtp_server.py --dir DIR [--port PORT] [--refuse N]

Listens on 127.0.0.1:PORT (0: any free port) and prints the port on the first line of stdout.
Each message accepted is written as DIR/NNNN.eml (the bytes received) and DIR/NNNN.json (the
envelope and the headers and bodies as Python's email parser decodes them), the .json last, so
that a reader that sees it sees both. The first N messages are refused with a 451.
"""

import argparse
import asyncio
import json
import os
import sys
from email import message_from_bytes, policy

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, directory, refuse):
        self.directory = directory
        self.refuse = refuse
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        self.count += 1
        base = os.path.join(self.directory, "%04d" % self.count)
        write(base + ".eml", raw)
        msg = message_from_bytes(raw, policy=policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        info = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "message_id": str(msg["Message-ID"]),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "raw_subject": raw_header(raw, "Subject"),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        write(base + ".json", json.dumps(info, ensure_ascii=False).encode("utf-8"))
        return "250 2.0.0 OK"


def raw_header(raw, name):
    """The header as sent, folded lines joined: to check how it was encoded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    lines = head.split("\r\n")
    out = None
    for line in lines:
        if out is not None:
            if line[:1] in (" ", "\t"):
                out += line
                continue
            break
        if line.lower().startswith(name.lower() + ":"):
            out = line
    return out


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--refuse", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    handler = Handler(args.dir, args.refuse)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.test", ident="aiosmtpd test relay"),
        "127.0.0.1",
        args.port,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
