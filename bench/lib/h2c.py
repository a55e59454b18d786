"""A minimal HTTP/2 cleartext (prior knowledge) client for one unary gRPC call per
connection, and the few protobuf encodings the benchmarks need.

Used to hold many idle client connections open (each having made one call) for the
memory measurement, and to ask the pods for their call counts (Echo/Stats). It sends
headers as HPACK literals without indexing and never decodes the answer's headers: a
call counts as answered when a gRPC message (a DATA frame with a payload) came back and
the stream ended.
"""

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
MAX_RESPONSE_BYTES = 1 << 20

SAY_HELLO_PATH = "/helloworld.Greeter/SayHello"
STATS_PATH = "/grpc_ingress.test.Echo/Stats"


class H2cError(Exception):
    pass


# --- protobuf and gRPC framing ----------------------------------------------------------

def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def proto_string_field(number, text):
    data = text.encode()
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def proto_fields(message):
    """Top-level fields of a protobuf message: {number: value} (varint or bytes; last wins)."""
    fields, i = {}, 0
    while i < len(message):
        key, i = _read_varint(message, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            fields[number], i = _read_varint(message, i)
        elif wire_type == 2:
            length, i = _read_varint(message, i)
            fields[number], i = message[i:i + length], i + length
        elif wire_type == 1:
            fields[number], i = message[i:i + 8], i + 8
        elif wire_type == 5:
            fields[number], i = message[i:i + 4], i + 4
        else:
            raise H2cError(f"unsupported protobuf wire type {wire_type}")
    return fields


def _read_varint(data, i):
    value, shift = 0, 0
    while True:
        if i >= len(data):
            raise H2cError("truncated protobuf varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def grpc_message(message):
    """A length-prefixed gRPC message: flag 0 (not compressed), 4-byte big-endian length."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def grpc_messages(body):
    """The messages in a gRPC response body."""
    messages, i = [], 0
    while i + 5 <= len(body):
        length = struct.unpack(">I", body[i + 1:i + 5])[0]
        messages.append(body[i + 5:i + 5 + length])
        i += 5 + length
    return messages


def hello_request_body(name="bench"):
    """helloworld.HelloRequest{name} as a gRPC request body (what h2load -d posts)."""
    return grpc_message(proto_string_field(1, name))


# --- HTTP/2 ------------------------------------------------------------------------------

def _frame(frame_type, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([frame_type, flags]) + struct.pack(">I", stream_id) + payload


def _hpack_int(value, prefix_bits):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([value])
    out, value = bytearray([limit]), value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def _hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)."""
    name, value = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(name), 7) + name + _hpack_int(len(value), 7) + value


def grpc_request_headers(path, authority):
    headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", authority),
               ("content-type", "application/grpc"), ("te", "trailers")]
    return b"".join(_hpack_literal(n, v) for n, v in headers)


class H2cConnection:
    """One client connection; unary_call() makes one call on stream 1, then it may idle."""

    def __init__(self, host, port, timeout=5.0):
        self.authority = f"{host}:{port}"
        self._timeout = timeout
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(PREFACE + _frame(SETTINGS, 0, 0))
        self._buffer = b""

    def close(self):
        self._sock.close()

    def unary_call(self, path, message):
        """Sends one gRPC request, returns the response messages (empty: trailers-only error)."""
        self._sock.sendall(_frame(HEADERS, END_HEADERS, 1, grpc_request_headers(path, self.authority))
                           + _frame(DATA, END_STREAM, 1, grpc_message(message)))
        body = b""
        deadline = time.monotonic() + self._timeout
        while True:
            frame_type, flags, stream_id, payload = self._read_frame(deadline)
            if frame_type == SETTINGS and not flags & ACK:
                self._sock.sendall(_frame(SETTINGS, ACK, 0))
            elif frame_type == PING and not flags & ACK:
                self._sock.sendall(_frame(PING, ACK, 0, payload))
            elif frame_type == GOAWAY:
                raise H2cError(f"GOAWAY from {self.authority}")
            elif stream_id == 1 and frame_type == RST_STREAM:
                raise H2cError(f"stream reset by {self.authority}")
            elif stream_id == 1 and frame_type in (DATA, HEADERS, CONTINUATION):
                if frame_type == DATA:
                    body += _data_payload(flags, payload)
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise H2cError(f"response from {self.authority} over {MAX_RESPONSE_BYTES} bytes")
                if flags & END_STREAM:
                    return grpc_messages(body)

    def _read_frame(self, deadline):
        while True:
            if len(self._buffer) >= 9:
                length = int.from_bytes(self._buffer[:3], "big")
                if len(self._buffer) >= 9 + length:
                    header, payload = self._buffer[:9], self._buffer[9:9 + length]
                    self._buffer = self._buffer[9 + length:]
                    return header[3], header[4], int.from_bytes(header[5:9], "big") & 0x7FFFFFFF, payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise H2cError(f"no answer from {self.authority} within {self._timeout:g} s")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout as e:
                raise H2cError(f"no answer from {self.authority} within {self._timeout:g} s") from e
            if not chunk:
                raise H2cError(f"{self.authority} closed the connection")
            self._buffer += chunk


def _data_payload(flags, payload):
    if flags & 0x8:  # PADDED
        return payload[1:len(payload) - payload[0]]
    return payload


def pod_call_count(ip, port, timeout=3.0):
    """(pod name, calls started) from a test-pod's grpc_ingress.test.Echo/Stats, asked directly."""
    connection = H2cConnection(ip, port, timeout)
    try:
        messages = connection.unary_call(STATS_PATH, b"")
    finally:
        connection.close()
    if not messages:
        raise H2cError(f"Stats on {ip}:{port} answered no message")
    fields = proto_fields(messages[0])
    return fields.get(1, b"").decode(), int(fields.get(7, 0))
