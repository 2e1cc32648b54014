#!/usr/bin/env python3
"""A minimal SMTP server on 127.0.0.1 for bench/scoring/run.sh: the probe target of one provider.
Answers the banner, EHLO (no STARTTLS offered), NOOP/RSET and QUIT; anything else gets 502.
Usage: smtp-target.py PORT   (runs until killed)."""
import asyncio, sys

async def serve(reader, writer):
    writer.write(b"220 bench.invalid ESMTP\r\n")
    await writer.drain()
    while True:
        line = await reader.readline()
        if not line:
            break
        verb = line.decode("ascii", "replace").strip().split(" ")[0].upper()
        if verb in ("EHLO", "HELO"):
            writer.write(b"250-bench.invalid\r\n250 8BITMIME\r\n")
        elif verb in ("NOOP", "RSET"):
            writer.write(b"250 2.0.0 Ok\r\n")
        elif verb == "QUIT":
            writer.write(b"221 2.0.0 Bye\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"502 5.5.2 Error: command not recognized\r\n")
        await writer.drain()
    writer.close()

async def main(port):
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()

asyncio.run(main(int(sys.argv[1])))
