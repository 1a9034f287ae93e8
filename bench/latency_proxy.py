#!/usr/bin/env python3
"""A TCP forwarder that delays every chunk by DELAY_MS in each direction, so that each round
trip through it costs 2 * DELAY_MS more: a distant endpoint on loopback.

Usage: latency_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS  (both on 127.0.0.1; prints "ready")

The TCP handshake with the forwarder itself is not delayed (the kernel completes it before the
forwarder sees the connection), so a client's connection setup costs one round trip less here
than on a real network.
"""
import asyncio
import sys


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            # Chunks keep their order: call_later with one delay fires in the order it was called.
            loop.call_later(delay, writer.write, data)
    except ConnectionError:
        pass
    await asyncio.sleep(delay)
    try:
        writer.write_eof()
    except (OSError, RuntimeError):
        pass


async def main():
    listen, target, delay_ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    delay = delay_ms / 1000

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(
            pump(client_reader, server_writer, delay),
            pump(server_reader, client_writer, delay),
        )
        client_writer.close()
        server_writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
