"""Python `websockets` clients against ws-server's examples (conformance/src/interop/examples.rs).

    python examples.py broadcast URL        chat: every message reaches every member, sender too
    python examples.py not-found URL        chat: a path other than /chat is answered 404
    python examples.py origin URL ORIGIN    chat --origin ORIGIN: that Origin in, others 403
    python examples.py full URL N           chat --max-clients N: N members in, the next 503
    python examples.py shutdown URL         chat: prints `ready`, then every member gets 1001
    python examples.py ticker URL N         ticker: N subscribers get the same consecutive ticks
    python examples.py echo URL             echo --compression: messages back, compressed

Prints `ok STEP (detail)` per step passed, then `PASS`; or `FAIL STEP: why` and exits with
status 1. Every wait is bounded (STEP_TIMEOUT).
"""

import asyncio
import re
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.extensions.permessage_deflate import PerMessageDeflate

STEP_TIMEOUT = 10.0
# The largest message of the echo check: 1 MiB, the echo example's default --max-size.
MAX_SIZE = 1 << 20


class StepFailed(Exception):
    pass


async def step(name, action, timeout=STEP_TIMEOUT):
    try:
        detail = await asyncio.wait_for(action(), timeout)
    except asyncio.TimeoutError:
        raise StepFailed(f"{name}: timed out after {timeout} s")
    except StepFailed as e:
        raise StepFailed(f"{name}: {e}")
    except Exception as e:  # a peer error is the step's failure, with what it was
        raise StepFailed(f"{name}: {type(e).__name__}: {e}")
    print(f"ok {name}" + (f" ({detail})" if detail else ""), flush=True)


def at_path(url, path):
    """The URL with another path: ws://host:port/chat -> ws://host:port/PATH."""
    return re.sub(r"^(wss?://[^/]+)/.*$", r"\1" + path, url)


async def members(url, n, **kwargs):
    return [await connect(url, open_timeout=STEP_TIMEOUT, ping_interval=None, **kwargs) for _ in range(n)]


async def refused(url, status, **kwargs):
    """Connects expecting the handshake to be answered `status`; returns the response body."""
    try:
        ws = await connect(url, open_timeout=STEP_TIMEOUT, **kwargs)
    except InvalidStatus as e:
        got = e.response.status_code
        if got != status:
            raise StepFailed(f"answered {got}, expected {status}")
        return f"{got} {bytes(e.response.body or b'').decode(errors='replace')!r}"
    await ws.close()
    raise StepFailed(f"the handshake succeeded, expected {status}")


async def round_of_messages(conns):
    """Every member sends one message; every member must get all of them (order per sender)."""
    sent = [f"hello ✓ from member {i}" for i in range(len(conns))]
    for ws, text in zip(conns, sent):
        await ws.send(text)
    for i, ws in enumerate(conns):
        got = sorted([await ws.recv() for _ in sent])
        if got != sorted(sent):
            raise StepFailed(f"member {i} got {got}, expected {sorted(sent)}")
    return f"{len(conns)} members, {len(sent) * len(conns)} messages delivered"


async def broadcast(url):
    conns = []

    async def join():
        conns.extend(await members(url, 3))

    await step("join", join)
    await step("broadcast", lambda: round_of_messages(conns))
    await step("binary ignored", lambda: binary_ignored(conns))
    for ws in conns:
        await ws.close()


async def binary_ignored(conns):
    """chat relays text only: a binary message reaches nobody, the next text does."""
    await conns[0].send(b"\x00\x01")
    await conns[0].send("after binary")
    for i, ws in enumerate(conns):
        got = await ws.recv()
        if got != "after binary":
            raise StepFailed(f"member {i} got {got!r}")


async def not_found(url):
    await step("404", lambda: refused(at_path(url, "/other"), 404))
    await step("404 below /chat", lambda: refused(at_path(url, "/chat/room"), 404))
    conns = []

    async def still_serving():
        conns.extend(await members(url, 1))
        return await round_of_messages(conns)

    await step("/chat still served", still_serving)
    await conns[0].close()


async def origin(url, allowed):
    conns = []

    async def allowed_in():
        conns.extend(await members(url, 2, origin=allowed))
        return await round_of_messages(conns)

    await step("allowed origin", allowed_in)
    await step("other origin 403", lambda: refused(url, 403, origin="http://evil.example"))
    await step("no origin 403", lambda: refused(url, 403))
    for ws in conns:
        await ws.close()


async def full(url, n):
    conns = []

    async def fill():
        conns.extend(await members(url, n))
        return await round_of_messages(conns)

    await step(f"{n} members", fill)
    await step(f"member {n + 1} gets 503", lambda: refused(url, 503))

    async def room_again():
        await conns.pop().close()
        for _ in range(50):  # the server frees the place once the close completes
            try:
                conns.append(await connect(url, open_timeout=STEP_TIMEOUT, ping_interval=None))
                break
            except InvalidStatus as e:
                if e.response.status_code != 503:
                    raise
                await asyncio.sleep(0.1)
        else:
            raise StepFailed("still 503 after a member left")
        return await round_of_messages(conns)

    await step("a place after one leaves", room_again)
    for ws in conns:
        await ws.close()


async def shutdown(url):
    conns = []

    async def join():
        conns.extend(await members(url, 3))
        return await round_of_messages(conns)

    await step("join", join)
    print("ready", flush=True)  # the driver now sends SIGINT to the server

    async def closed_1001():
        for i, ws in enumerate(conns):
            try:
                got = await ws.recv()
                raise StepFailed(f"member {i} got {got!r}, expected a Close")
            except ConnectionClosed:
                pass
            rcvd = ws.protocol.close_rcvd
            if rcvd is None or rcvd.code != 1001:
                raise StepFailed(f"member {i}: the server's Close was {rcvd}, expected 1001")
        return f"{len(conns)} members closed with 1001 {rcvd.reason!r}"

    await step("1001 on SIGINT", closed_1001)


async def ticker(url, n):
    conns = []

    async def subscribe():
        started = time.monotonic()
        # No bound on a client's queue of unread messages: with one, websockets stops reading
        # the socket once it is full, and a close would wait for its timeout.
        conns.extend(await asyncio.gather(*[members(url, 1, max_queue=None) for _ in range(n)]))
        return f"{n} subscribers in {time.monotonic() - started:.1f} s"

    # n connections at once: 1000 took 7 s on the 2-core machine at a load average of 8.
    await step("subscribe", subscribe, timeout=30)
    conns = [ws for (ws,) in conns]

    def number(message):
        if not re.fullmatch(r"tick \d+ \d+", message):
            raise StepFailed(f"not a tick: {message!r}")
        return int(message.split()[1])

    async def ticks():
        # Everyone reads on to a tick after the last subscriber's first one, with no gap: one
        # publish per tick reaches every subscriber that keeps up.
        firsts = await asyncio.gather(*[ws.recv() for ws in conns])
        target = max(number(m) for m in firsts) + 2

        async def read_on(i, ws, first):
            previous = number(first)
            while previous < target:
                current = number(await ws.recv())
                if current != previous + 1:
                    raise StepFailed(f"subscriber {i}: tick {current} after tick {previous}")
                previous = current

        await asyncio.gather(*[read_on(i, ws, m) for i, (ws, m) in enumerate(zip(conns, firsts))])
        return f"{n} subscribers, each with every tick from its first to tick {target}"

    await step("ticks", ticks)
    await asyncio.gather(*[ws.close() for ws in conns])


async def echo(url):
    conns = []

    async def negotiate():
        conns.extend(await members(url, 1, compression="deflate", max_size=MAX_SIZE))
        extensions = conns[0].protocol.extensions
        if not any(isinstance(e, PerMessageDeflate) for e in extensions):
            raise StepFailed(f"permessage-deflate not agreed: {extensions}")
        return "permessage-deflate agreed"

    await step("permessage-deflate", negotiate)
    ws = conns[0]
    messages = {
        "text": "Hello, wörld ✓",
        "binary": bytes(range(256)),
        "1 MiB text": ("ab ü ✓ 123456" * (1 << 16)),
        "1 MiB binary": bytes((i * 31 + 7) % 251 for i in range(1 << 20)),
    }
    for name, message in messages.items():

        async def echoed(message=message):
            await ws.send(message)
            got = await ws.recv()
            if got != message:
                raise StepFailed(f"got {type(got).__name__} of {len(got)}, expected the same back")

        await step(name, echoed)
    await ws.close()


async def main(argv):
    scenarios = {
        "broadcast": lambda url: broadcast(url),
        "not-found": lambda url: not_found(url),
        "origin": lambda url, allowed: origin(url, allowed),
        "full": lambda url, n: full(url, int(n)),
        "shutdown": lambda url: shutdown(url),
        "ticker": lambda url, n: ticker(url, int(n)),
        "echo": lambda url: echo(url),
    }
    if len(argv) < 2 or argv[0] not in scenarios:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        await scenarios[argv[0]](*argv[1:])
    except StepFailed as e:
        print(f"FAIL {e}", flush=True)
        return 1
    print("PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
