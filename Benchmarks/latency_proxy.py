#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that adds latency, for S3 benchmarks without netem.

  Benchmarks/latency_proxy.py LISTEN_PORT TARGET_PORT [DELAY_MS]

Every chunk is forwarded DELAY_MS (default 10) after it arrived, in both directions, so a request and
its response each take DELAY_MS more: 2 x DELAY_MS of round trip per request, as a remote region
would. Chunks are delayed, not the connection: a chunk that arrives while earlier ones wait is not
held back further, so bandwidth is not limited (as with netem's delay). Connections stay open
(keep-alive works through it).
"""

import asyncio
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def receive():
        try:
            while True:
                data = await reader.read(262144)
                await queue.put((loop.time() + delay, data))
                if not data:
                    return
        except (ConnectionError, asyncio.CancelledError):
            await queue.put((loop.time(), b""))

    receiving = asyncio.ensure_future(receive())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        receiving.cancel()
        writer.close()


async def main(listen, target, delay):
    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    listen, target = int(sys.argv[1]), int(sys.argv[2])
    delay = (float(sys.argv[3]) if len(sys.argv) > 3 else 10.0) / 1000
    asyncio.run(main(listen, target, delay))
