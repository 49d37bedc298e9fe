# SPDX-License-Identifier: Apache-2.0
"""Raw HTTP/1.1 over a socket, for tests that send what no client would: requests built
byte by byte, responses read with a deadline and split by their Content-Length."""
import socket
import time


def request(path, body=b"", method=b"POST", headers=b"", version=b"HTTP/1.1", close=True):
    """A request's bytes: @headers (raw lines, each ending in CRLF) go after Host."""
    if isinstance(body, str):
        body = body.encode()
    if isinstance(path, str):
        path = path.encode()
    return (method + b" " + path + b" " + version + b"\r\nHost: lemu\r\n" + headers +
            (b"Connection: close\r\n" if close else b"") +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def parse_head(head):
    """A response head without its blank line: (status, {lower-case name: value})."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers


def parse_responses(data):
    """Splits Content-Length framed responses. Returns [(status, headers, body)], rest."""
    out = []
    while b"\r\n\r\n" in data:
        head, rest = data.split(b"\r\n\r\n", 1)
        status, headers = parse_head(head)
        n = int(headers.get("content-length", "0"))
        if len(rest) < n:
            break
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out, data


def recv_all(sock, timeout):
    """Reads until EOF or @timeout; returns (bytes, eof)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def recv_some(sock, deadline):
    """One recv() bounded by deadline; b"" on EOF or reset."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise AssertionError("timed out waiting for data from lemu")
    sock.settimeout(left)
    try:
        return sock.recv(65536)
    except socket.timeout:
        raise AssertionError("timed out waiting for data from lemu")
    except ConnectionResetError:
        return b""


def read_response(sock, buf=b"", timeout=10.0):
    """Reads one HTTP response (Content-Length framed). Returns status, headers, body, rest."""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        chunk = recv_some(sock, deadline)
        if not chunk:
            raise AssertionError("connection closed before a response head: %r" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status, headers = parse_head(head)
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = recv_some(sock, deadline)
        if not chunk:
            raise AssertionError("connection closed inside a body")
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def wait_eof(sock, timeout=5.0):
    """True when the peer closes within timeout (any bytes read meanwhile are discarded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
    return False
