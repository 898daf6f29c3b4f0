"""The scripted interop client on Python `websockets`.

    python client.py URL [--ca cert.pem]

Prints `ok STEP` per step passed, then `PASS`; or `FAIL STEP: why` and exits with status 1.
"""

import argparse
import asyncio
import ssl
import sys

from websockets.asyncio.client import connect

from conversation import MAX_SIZE, OFFERED_PROTOCOLS, StepFailed, run_client


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--ca")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.ca) if args.ca else None

    async def open_connection():
        return await connect(
            args.url,
            subprotocols=OFFERED_PROTOCOLS,
            compression="deflate",
            max_size=MAX_SIZE,
            ping_interval=None,
            ssl=context,
            open_timeout=10,
        )

    try:
        await run_client(open_connection, lambda line: print(line, flush=True))
    except StepFailed as e:
        print(f"FAIL {e}", flush=True)
        return 1
    print("PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
