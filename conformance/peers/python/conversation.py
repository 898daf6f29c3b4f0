"""The interop conversation of conformance/src/script.rs, for Python `websockets` (asyncio API).

server.py and client.py run it; README.md (conformance/) describes it step by step.
"""

import asyncio

from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import PerMessageDeflate

OFFERED_PROTOCOLS = ["chat.v2", "chat.v1"]
SERVER_PROTOCOLS = ["chat.v1"]
STEP_TIMEOUT = 10.0
MAX_SIZE = 16 << 20

LARGE_BINARY = bytes((i * 31 + 7) % 251 for i in range(1 << 20))
LARGE_TEXT = "ab ü ✓ 123456" * (1 << 16)
assert len(LARGE_TEXT.encode()) == 1 << 20


def deflate_in_use(ws):
    return any(isinstance(e, PerMessageDeflate) for e in ws.protocol.extensions)


class StepFailed(Exception):
    pass


class Server:
    """The scripted server: echo, plus the cmd: commands."""

    def __init__(self):
        self.last_close = None
        self.close_seen = asyncio.Event()

    async def handle(self, ws):
        try:
            async for message in ws:
                if isinstance(message, str) and message.startswith("cmd:"):
                    await self.command(ws, message)
                else:
                    await ws.send(message)
        except ConnectionClosed:
            pass
        rcvd = ws.protocol.close_rcvd
        if rcvd is not None:
            self.last_close = f"{rcvd.code}:{rcvd.reason}"
            self.close_seen.set()

    async def command(self, ws, command):
        parts = command.split(":", 3)[1:]
        if parts == ["info"]:
            deflate = "yes" if deflate_in_use(ws) else "no"
            await ws.send(f"protocol={ws.subprotocol or 'none'};deflate={deflate}")
        elif parts == ["fragments"]:
            await ws.send(["alpha-", "beta-", "gamma"])
        elif parts == ["ping"]:
            pong = await ws.ping(b"ping-from-server")
            await asyncio.wait_for(pong, STEP_TIMEOUT)
            await ws.send("pong:ping-from-server")
        elif parts == ["last-close"]:
            try:
                await asyncio.wait_for(self.close_seen.wait(), 5)
            except asyncio.TimeoutError:
                pass
            await ws.send(self.last_close or "none")
        elif len(parts) == 3 and parts[0] == "close":
            await ws.close(int(parts[1]), parts[2])
        else:
            await ws.send(f"error:unknown command {command!r}")


async def expect(ws):
    try:
        return await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
    except ConnectionClosed as e:
        raise StepFailed(f"the connection closed: {e}")


async def echo(ws, message):
    await ws.send(message)
    got = await expect(ws)
    if got != message:
        raise StepFailed(f"sent {describe(message)}, got back {describe(got)}")


async def request(ws, command, expected):
    await ws.send(command)
    got = await expect(ws)
    if got != expected:
        raise StepFailed(f"{command}: expected {expected!r}, got {describe(got)}")


def describe(message):
    kind = "text" if isinstance(message, str) else "binary"
    return f"{kind} {message!r}" if len(message) <= 64 else f"{kind} of {len(message)} chars/bytes"


async def run_client(connect, log):
    """Runs the client side; `connect()` opens a connection (used twice)."""

    async def step(name, action):
        try:
            detail = await action
        except StepFailed as e:
            raise StepFailed(f"{name}: {e}")
        except (ConnectionClosed, asyncio.TimeoutError, OSError) as e:
            raise StepFailed(f"{name}: {type(e).__name__}: {e}")
        log(f"ok {name}" + (f" ({detail})" if detail else ""))

    async def subprotocol(ws):
        if ws.subprotocol != SERVER_PROTOCOLS[0]:
            raise StepFailed(f"agreed on {ws.subprotocol!r}, expected {SERVER_PROTOCOLS[0]!r}")

    async def info(ws):
        await ws.send("cmd:info")
        reply = await expect(ws)
        prefix = "protocol=chat.v1;deflate="
        if not isinstance(reply, str) or not reply.startswith(prefix):
            raise StepFailed(f"server said {reply!r}")
        server, ours = reply[len(prefix):], "yes" if deflate_in_use(ws) else "no"
        if not (ours == "yes" and server == "yes"):
            raise StepFailed(f"permessage-deflate not in use on both ends (client: {ours}, server: {server})")
        return f"permessage-deflate: client {ours}, server {server}"

    async def fragmented_send(ws):
        await ws.send(["frag", "mented ", "text ✓"])
        got = await expect(ws)
        if got != "fragmented text ✓":
            raise StepFailed(f"expected 'fragmented text ✓', got {describe(got)}")

    async def ping(ws):
        pong = await ws.ping(b"ping-from-client")
        await asyncio.wait_for(pong, STEP_TIMEOUT)

    async def client_close(ws):
        await ws.close(4001, "client bye ✓")
        await asyncio.wait_for(ws.wait_closed(), STEP_TIMEOUT)
        rcvd, sent = ws.protocol.close_rcvd, ws.protocol.close_sent
        if rcvd is None or sent is None:
            raise StepFailed(f"the close was not clean (received {rcvd}, sent {sent})")
        return f"server replied {rcvd.code} {rcvd.reason!r}"

    async def server_close(ws):
        await ws.send("cmd:close:4002:server bye ✓")
        try:
            got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
            raise StepFailed(f"expected a Close, got {describe(got)}")
        except ConnectionClosed as e:
            if e.rcvd is None or e.sent is None:
                raise StepFailed(f"the close was not clean (received {e.rcvd}, sent {e.sent})")
            if (e.rcvd.code, e.rcvd.reason) != (4002, "server bye ✓"):
                raise StepFailed(f"expected Close 4002 'server bye ✓', got {e.rcvd}")

    try:
        ws = await connect()
    except Exception as e:  # noqa: BLE001 - any failure to connect fails the step
        raise StepFailed(f"connect: {type(e).__name__}: {e}")
    await step("subprotocol", subprotocol(ws))
    await step("info", info(ws))
    await step("text", echo(ws, "Hello, wörld ✓"))
    await step("binary", echo(ws, bytes(range(256))))
    await step("1 MiB binary", echo(ws, LARGE_BINARY))
    await step("1 MiB text", echo(ws, LARGE_TEXT))
    await step("fragmented send", fragmented_send(ws))
    await step("fragmented receive", request(ws, "cmd:fragments", "alpha-beta-gamma"))
    await step("ping", ping(ws))
    await step("server ping", request(ws, "cmd:ping", "pong:ping-from-server"))
    await step("client close", client_close(ws))

    try:
        ws = await connect()
    except Exception as e:  # noqa: BLE001
        raise StepFailed(f"second connect: {type(e).__name__}: {e}")
    await step("close seen by server", request(ws, "cmd:last-close", "4001:client bye ✓"))
    await step("server close", server_close(ws))
