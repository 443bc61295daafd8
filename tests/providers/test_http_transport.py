"""The SDK clients' lean HTTP/1.1 transport against raw asyncio servers on 127.0.0.1 that
answer exactly as each case needs (keep-alive, chunked, close-delimited, stale connections,
timeouts, TLS)."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import openai
import pytest

from llm_platform.providers.http_transport import LeanTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.port = 0


async def read_request(reader: asyncio.StreamReader, server: Server) -> bytes | None:
    """One request (head and body, Content-Length or chunked); None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lowered = head.lower()
    body = b""
    if b"transfer-encoding: chunked" in lowered:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            piece = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += piece[:-2]
    else:
        for line in lowered.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                body = await reader.readexactly(int(line.split(b":")[1]))
    server.requests.append((head, body))
    return head


@asynccontextmanager
async def serve(
    handler: Handler, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    server = Server()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            await handler(reader, writer, server)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=ssl_context)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), extra, body)


async def keep_alive(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
) -> None:
    while await read_request(reader, server) is not None:
        writer.write(ok(b'{"ok":true}', b"Content-Type: application/json\r\n"))
        await writer.drain()


def client(
    server: Server, transport: LeanTransport | None = None, **kw: float
) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}",
        transport=transport or LeanTransport(),
        timeout=httpx2.Timeout(kw.get("timeout", 5.0)),
    )


async def test_keep_alive_connection_is_reused() -> None:
    async with serve(keep_alive) as server, client(server) as http:
        for _ in range(3):
            response = await http.post("/v1/x", json={"a": 1})
            assert response.status_code == 200
            assert response.json() == {"ok": True}
    assert server.connections == 1
    assert [body for _, body in server.requests] == [b'{"a":1}'] * 3


async def test_chunked_body_arrives_piece_by_piece() -> None:
    release = asyncio.Event()

    async def chunked(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()
        await read_request(reader, server)  # the connection stays open for the next one

    async with (
        serve(chunked) as server,
        client(server) as http,
        http.stream("GET", "/") as response,
    ):
        pieces = response.aiter_bytes()
        assert await anext(pieces) == b"first"  # before the server sent the rest
        release.set()
        assert b"".join([piece async for piece in pieces]) == b"second"


async def test_body_delimited_by_close() -> None:
    async def close_delimited(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()

    async with serve(close_delimited) as server, client(server) as http:
        assert (await http.get("/")).content == b"all of it"
        assert (await http.get("/")).content == b"all of it"
    assert server.connections == 2


async def test_gzip_body_is_decoded_by_httpx2() -> None:
    async def gzipped(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(ok(gzip.compress(b"hello" * 100), b"Content-Encoding: gzip\r\n"))
        await writer.drain()

    async with serve(gzipped) as server, client(server) as http:
        assert (await http.get("/")).content == b"hello" * 100


async def test_stale_keep_alive_connection_is_retried_once_on_a_new_one() -> None:
    async def closes_after_each(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(ok(b"done"))  # keep-alive implied, but the server closes right after
        await writer.drain()

    async with serve(closes_after_each) as server, client(server) as http:
        assert (await http.post("/", content=b"one")).content == b"done"
        await asyncio.sleep(0.05)  # the close reaches the pooled connection
        assert (await http.post("/", content=b"two")).content == b"done"
    assert [body for _, body in server.requests] == [b"one", b"two"]


async def test_reused_connection_closed_unseen_is_sent_again() -> None:
    """The race the pool cannot see: the server drops the connection after the request was
    written to it (no byte of an answer): sent once more on a new connection."""
    transport = LeanTransport()
    seen = 0

    async def drops_second_request(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        nonlocal seen
        while await read_request(reader, server) is not None:
            seen += 1
            if seen == 2:
                return  # closes without answering
            writer.write(ok(b"fine"))
            await writer.drain()

    async with serve(drops_second_request) as server, client(server, transport) as http:
        assert (await http.get("/")).content == b"fine"
        assert (await http.get("/")).content == b"fine"
    assert server.connections == 2
    assert len(server.requests) == 3


async def test_streamed_request_body_is_sent_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"alpha,", b"beta,", b"gamma"):
            yield part

    async with serve(keep_alive) as server, client(server) as http:
        response = await http.post("/", content=parts())
        assert response.status_code == 200
    head, body = server.requests[0]
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"alpha,beta,gamma"


async def test_read_timeout() -> None:
    async def silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        await asyncio.sleep(5)

    async with serve(silent) as server, client(server, timeout=0.2) as http:
        with pytest.raises(httpx2.ReadTimeout):
            await http.get("/")


async def test_refused_connection_is_a_connect_error() -> None:
    async with serve(keep_alive) as server:
        port = server.port
    http = httpx2.AsyncClient(transport=LeanTransport())
    with pytest.raises(httpx2.ConnectError):
        await http.get(f"http://127.0.0.1:{port}/")


async def test_server_dropping_mid_body_is_a_protocol_error() -> None:
    async def truncated(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()

    async with serve(truncated) as server, client(server) as http:
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.get("/")


async def test_garbage_answer_is_a_protocol_error() -> None:
    async def garbage(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with serve(garbage) as server, client(server) as http:
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.get("/")


async def test_closing_a_response_early_closes_its_connection() -> None:
    closed = asyncio.Event()

    async def endless(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        await read_request(reader, server)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")

        async def feed() -> None:
            while True:
                writer.write(b"4\r\ndata\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)

        feeder = asyncio.create_task(feed())
        await reader.read()  # until EOF: the client closed the connection
        closed.set()
        feeder.cancel()

    async with serve(endless) as server, client(server) as http:
        async with http.stream("GET", "/") as response:
            async for _ in response.aiter_bytes():
                break
        await asyncio.wait_for(closed.wait(), 1.0)
        # ...and the pool does not hand it out again.
        assert all(not pool for pool in http._transport.idle.values())  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


async def test_tls_through_the_openai_sdk(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))

    async def models(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        while await read_request(reader, server) is not None:
            writer.write(
                ok(
                    b'{"object":"list","data":[{"id":"m1","object":"model",'
                    b'"created":0,"owned_by":"me"}]}',
                    b"Content-Type: application/json\r\n",
                )
            )
            await writer.drain()

    async with serve(models, server_tls) as server:
        sdk = openai.AsyncOpenAI(
            api_key="sk-test",
            base_url=f"https://localhost:{server.port}/v1",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=LeanTransport(ssl_context=client_tls)),
        )
        listed = [m.id async for m in sdk.models.list()]
        listed += [m.id async for m in sdk.models.list()]
        await sdk.close()
    assert listed == ["m1", "m1"]
    assert server.connections == 1
    head = server.requests[0][0].lower()
    assert b"authorization: bearer sk-test" in head
    assert b"host: localhost:" in head


async def test_large_body_read_slowly_arrives_whole_and_the_connection_is_reused() -> None:
    """Past 1 MB unread the socket is paused (back-pressure), then resumed as it is read."""
    big = bytes(range(256)) * 16384  # 4 MiB

    async def large(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        while await read_request(reader, server) is not None:
            writer.write(ok(big))
            await writer.drain()

    async with serve(large) as server, client(server) as http:
        for _ in range(2):
            async with http.stream("GET", "/") as response:
                received = bytearray()
                async for piece in response.aiter_raw():
                    received += piece
                    await asyncio.sleep(0.005)
            assert bytes(received) == big
    assert server.connections == 1
