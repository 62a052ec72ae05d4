"""The load generator: its own process, posting provider webhooks and agent replies on loopback.

``python -m bench.load <spec.json> <out.json>``. A spec names a ``kind`` (``inbound``: signed Infobip
WhatsApp webhooks to Switchboard or the baseline; ``outbound``: agent replies through the sandbox's
console API), the conversations, how many messages, and either a ``rate`` (messages per second,
open loop) or none (as fast as ``concurrency`` requests in flight allow).

A conversation's next message leaves only after its previous one was answered 2xx, as a provider
does, so "per-conversation order" has a meaning; a refused or failed request is retried after a
short pause until ``deadline``. Every message is recorded as ``[key, sent, answered, status, tries]``
(epoch seconds), ``sent`` being the first try.

HTTP/1.1 is spoken directly over asyncio streams: httpx would cost the load generator more CPU than
the system under test on this 2-core machine.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


class RawHTTP:
    """A tiny keep-alive HTTP/1.1 client for one host (Content-Length bodies only)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        for attempt in range(2):
            reused = bool(self.idle)
            reader, writer = (
                self.idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
            )
            head = [
                f"{method} {path} HTTP/1.1",
                f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}",
            ]
            head += [f"{k}: {v}" for k, v in headers.items()]
            try:
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
                status_line = await reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed before answering")
                status = int(status_line.split()[1])
                length, close = 0, False
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "connection" and value.strip().lower() == "close":
                        close = True
                payload = await reader.readexactly(length) if length else b""
            except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
                writer.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection: once more on a fresh one
                raise
            if close:
                writer.close()
            else:
                self.idle.append((reader, writer))
            return status, payload
        raise ConnectionError("unreachable")


def whatsapp_mo(message_id: str, sender: str, customer: str, text: str) -> bytes:
    """One Infobip WhatsApp MO result, as Infobip posts it."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
    return json.dumps(
        {
            "results": [
                {
                    "from": customer,
                    "to": sender,
                    "integrationType": "WHATSAPP",
                    "receivedAt": stamp,
                    "messageId": message_id,
                    "message": {"text": text, "type": "TEXT"},
                    "contact": {"name": "Bench"},
                    "price": {"pricePerMessage": 0, "currency": "EUR"},
                }
            ],
            "messageCount": 1,
            "pendingMessageCount": 0,
        }
    ).encode()


class Line:
    """One conversation's messages, sent one after another."""

    def __init__(self, conversation: dict) -> None:
        self.conversation = conversation
        self.pending: collections.deque = collections.deque()


async def run(spec: dict) -> dict:
    kind = spec["kind"]
    client = RawHTTP(spec["target"])
    lines = [Line(c) for c in spec["conversations"]]
    total = int(spec["messages"])
    prefix = spec["prefix"]
    start_seq = spec.get("start_seq", 1)
    for n in range(total):
        line = lines[n % len(lines)]
        line.pending.append(start_seq + len(line.pending))
    rate = spec.get("rate")
    concurrency = int(spec.get("concurrency", 256))
    deadline = time.time() + float(spec.get("deadline", 600))
    records: list[list] = []
    ready: collections.deque[Line] = collections.deque(line for line in lines if line.pending)
    wake = asyncio.Event()
    slots = asyncio.Semaphore(concurrency)

    async def send_one(line: Line, seq: int) -> None:
        conv = line.conversation
        key = f"{prefix} {conv['id']} {seq}"
        if kind == "inbound":
            body = whatsapp_mo(f"{prefix}-{conv['id']}-{seq}", conv["sender"], conv["customer"], key)
            signature = "sha256=" + hmac.new(conv["secret"].encode(), body, hashlib.sha256).hexdigest()
            path = conv["path"]
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        else:
            body = json.dumps({"agent": conv["agent"], "text": key}).encode()
            path = conv["path"]
            headers = {"Content-Type": "application/json"}
        sent, tries, status = time.time(), 0, 0
        while True:
            tries += 1
            try:
                # A request nobody answers (a server worker killed mid-request) must not stall the run.
                status, _ = await asyncio.wait_for(client.request("POST", path, body, headers), 30)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                status = -1
                last = repr(exc)
            if 200 <= status < 300 or time.time() > deadline:
                break
            await asyncio.sleep(0.2)  # as a provider retries a refused webhook
        records.append([key, sent, time.time(), status, tries])
        if status < 200 or status >= 300:
            records[-1].append(last if status == -1 else "")

    async def worker(line: Line) -> None:
        try:
            await send_one(line, line.pending.popleft())
        finally:
            slots.release()
            if line.pending:
                ready.append(line)
                wake.set()

    started = time.time()
    tasks = set()
    for n in range(total):
        if rate:
            due = started + n / rate
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        await slots.acquire()
        while not ready:
            wake.clear()
            await wake.wait()
        task = asyncio.create_task(worker(ready.popleft()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if time.time() > deadline:
            break
    await asyncio.gather(*tasks)
    return {"started": started, "finished": time.time(), "records": records}


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    result = asyncio.run(run(spec))
    with open(argv[1], "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main(sys.argv[1:])
