"""How the webhook client reads answers of every shape a receiver may send: a real server on
a local socket writes the raw bytes, and tracker.alerts.http must read the status and what it
keeps of the body, and reuse the connection only when the answer left it in step."""

import socket
import threading

import pytest

from tracker.alerts import http


class RawServer:
    """Answers each request (read to the end of its body) with the next scripted bytes, on
    as many connections as the client opens; then closes the connection if asked."""

    def __init__(self, answers: list[bytes], close_after: bool = False, hold: float = 0):
        self.answers = list(answers)
        self.close_after = close_after
        self.hold = hold  # seconds the connection stays open, silent, after each answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # so that the serving thread sees stop() soon
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"

    def _serve(self):
        while self.answers and not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(5)
            self.connections += 1
            with connection:
                while self.answers:
                    request = self._read_request(connection)
                    if request is None:
                        break
                    self.requests.append(request)
                    connection.sendall(self.answers.pop(0))
                    self.stopped.wait(self.hold)
                    if self.close_after:
                        break

    @staticmethod
    def _read_request(connection: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += connection.recv(65536)
        return data

    def stop(self):
        self.stopped.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture(autouse=True)
def _empty_pool(monkeypatch):
    monkeypatch.setattr(http, "_idle", http._IdlePool())


def _post(url: str) -> http.HttpResponse:
    return http.post(url, body=b'{"a": 1}', headers={"content-type": "application/json"})


def test_the_request_carries_host_length_and_the_given_headers():
    server = RawServer([b"HTTP/1.1 204 No Content\r\n\r\n"])
    try:
        assert _post(server.url).status == 204
        head, _, body = server.requests[0].partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"POST /hook HTTP/1.1"
        assert f"Host: 127.0.0.1:{server.listener.getsockname()[1]}".encode() in lines
        assert b"content-type: application/json" in lines
        assert b"Content-Length: 8" in lines
        assert body == b'{"a": 1}'
    finally:
        server.stop()


def test_a_chunked_answer_is_read_and_the_connection_reused():
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    server = RawServer([chunked, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    try:
        first = _post(server.url)
        second = _post(server.url)
        assert (first.status, first.body) == (200, b"hello world")
        assert (second.status, second.body) == (200, b"ok")
        assert server.connections == 1
    finally:
        server.stop()


def test_an_interim_answer_is_skipped_for_the_final_one():
    interim = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
    server = RawServer([interim + b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"])
    try:
        answer = _post(server.url)
        assert (answer.status, answer.body) == (201, b"done")
    finally:
        server.stop()


def test_a_long_body_is_kept_in_part_and_drained_for_the_next_request():
    long_body = b"x" * 20_000
    server = RawServer(
        [
            b"HTTP/1.1 500 Oops\r\nContent-Length: 20000\r\n\r\n" + long_body,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ]
    )
    try:
        first = _post(server.url)
        assert first.status == 500 and first.body == long_body[: http.RESPONSE_KEEP_BYTES]
        assert _post(server.url).status == 200
        assert server.connections == 1
    finally:
        server.stop()


def test_an_answer_ending_with_the_connection_is_read_and_not_reused():
    server = RawServer(
        [b"HTTP/1.0 200 OK\r\n\r\nuntil close", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
        close_after=True,
    )
    try:
        first = _post(server.url)
        assert (first.status, first.body) == (200, b"until close")
        assert _post(server.url).status == 200
        assert server.connections == 2
    finally:
        server.stop()


def test_connection_close_is_honoured():
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    server = RawServer([closing, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], close_after=True)
    try:
        _post(server.url)
        assert len(http._idle) == 0
        _post(server.url)
        assert server.connections == 2
    finally:
        server.stop()


def test_a_second_answer_to_one_request_is_ignored_and_the_connection_dropped():
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    extra = b"HTTP/1.1 500 Extra\r\nContent-Length: 3\r\n\r\nbad"
    server = RawServer([ok + extra, ok])
    try:
        first = _post(server.url)
        assert (first.status, first.body) == (200, b"ok")
        assert len(http._idle) == 0
        assert _post(server.url).status == 200
        assert server.connections == 2
    finally:
        server.stop()


def test_a_stall_after_the_kept_part_of_the_body_ends_only_the_draining(settings):
    settings.WEBHOOK_TOTAL_TIMEOUT = 1.0
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n"
    server = RawServer([head + b"x" * 5000], hold=3)
    try:
        answer = _post(server.url)
        assert (answer.status, answer.body) == (200, b"x" * http.RESPONSE_KEEP_BYTES)
        assert len(http._idle) == 0
    finally:
        server.stop()


def test_a_stall_before_the_answer_is_in_fails_the_request(settings):
    settings.WEBHOOK_TOTAL_TIMEOUT = 1.0
    server = RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nhalf"], hold=3)
    try:
        with pytest.raises(http.RequestFailed, match="within 1 s"):
            _post(server.url)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "answer, reused",
    [
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", True),  # bare LF line ends
        (b"HTTP/1.1 200 OK\r\nX-Note: a\x01b\r\nContent-Length: 2\r\n\r\nok", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", False),
    ],
)
def test_a_sloppy_but_final_answer_counts(answer, reused):
    server = RawServer([answer])
    try:
        assert _post(server.url).status == 200
        assert len(http._idle) == (1 if reused else 0)
    finally:
        server.stop()


def test_a_protocol_switch_is_recorded_and_the_connection_dropped():
    server = RawServer(
        [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"]
    )
    try:
        assert _post(server.url).status == 101
        assert len(http._idle) == 0
    finally:
        server.stop()


def test_garbage_is_a_failed_request():
    server = RawServer([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"], close_after=True)
    try:
        with pytest.raises(http.RequestFailed, match="Request failed"):
            _post(server.url)
    finally:
        server.stop()


def test_a_connection_closed_without_an_answer_is_a_failed_request():
    server = RawServer([b""], close_after=True)
    try:
        with pytest.raises(http.RequestFailed, match="without an answer"):
            _post(server.url)
    finally:
        server.stop()


def test_a_header_name_that_is_not_a_token_is_refused_before_sending():
    server = RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    try:
        with pytest.raises(ValueError, match="not a header name"):
            http.post(server.url, body=b"{}", headers={"x-a: b\r\nx-c": "d"})
        assert server.requests == []
    finally:
        server.stop()


@pytest.mark.parametrize("value", ["a\r\nInjected: yes", "a\nb", "a\x00b"])
def test_a_header_value_with_a_line_break_is_refused_before_sending(value):
    server = RawServer([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    try:
        with pytest.raises(ValueError, match="line break"):
            http.post(server.url, body=b"{}", headers={"webhook-id": value})
        assert server.requests == []
    finally:
        server.stop()
