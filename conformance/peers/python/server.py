"""The scripted interop server on Python `websockets`.

    python server.py [--tls-cert cert.pem --tls-key key.pem]

Listens on an ephemeral port of 127.0.0.1, prints `listening on PORT`, serves until killed.
"""

import argparse
import asyncio
import ssl

from websockets.asyncio.server import serve

from conversation import MAX_SIZE, SERVER_PROTOCOLS, Server


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    server = Server()
    async with serve(
        server.handle,
        "127.0.0.1",
        0,
        subprotocols=SERVER_PROTOCOLS,
        compression="deflate",
        max_size=MAX_SIZE,
        ping_interval=None,
        ssl=context,
    ) as listener:
        port = listener.sockets[0].getsockname()[1]
        print(f"listening on {port}", flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main())
