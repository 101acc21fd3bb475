#!/usr/bin/env python3
"""A small bounded memcached load for hak's server profiles (text protocol, loopback only).

    memc_load.py --port P [--requests N] [--keys K] [--value-size B] [--get-ratio R] [--grow]

Makes exactly N requests on one connection: sets and gets over K keys (or, with --grow, a set of
a new key every time, so the data set grows to N values, then a get of every key set), each
value derived from its key so that every answer is checked. A known key is written first and
read back last. Prints one JSON line: test, requests, rps, p50_ms, p99_ms, max_ms, errors
(wrong or failed answers; hak takes any above 0 as a wrong server). Exit 0 even with errors,
so that the count is read; exit 2 when the server cannot be reached.
"""
import argparse
import json
import socket
import sys
import time

CHECK_KEY = b"hak:check"
CHECK_VALUE = b"hakmem-server-profile-check"


def value_for(key: bytes, size: int) -> bytes:
    unit = key + b"|"
    return (unit * (size // len(unit) + 1))[:size]


class Connection:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(max(65536, count - len(self.buffer)))
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def set(self, key: bytes, value: bytes) -> bool:
        self.sock.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value))
        return self.line() == b"STORED"

    def get(self, key: bytes):
        self.sock.sendall(b"get %s\r\n" % key)
        header = self.line()
        if header == b"END":
            return None
        parts = header.split()
        if len(parts) < 4 or parts[0] != b"VALUE":
            raise ValueError("unexpected answer %r" % header[:60])
        data = self.exactly(int(parts[3]) + 2)[:-2]
        if self.line() != b"END":
            raise ValueError("no END after a value")
        return data


def percentile(sorted_values, share):
    index = min(len(sorted_values) - 1, max(0, int(round(share * (len(sorted_values) - 1)))))
    return sorted_values[index]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--value-size", type=int, default=256)
    parser.add_argument("--get-ratio", type=float, default=0.8)
    parser.add_argument("--grow", action="store_true")
    args = parser.parse_args()
    try:
        conn = Connection(args.port)
    except OSError as error:
        print(json.dumps({"errors": 1, "error": "cannot connect: %s" % error}))
        return 2

    errors = 0
    first_error = None
    latencies = []
    set_keys = set()
    started = time.perf_counter()
    try:
        if not conn.set(CHECK_KEY, CHECK_VALUE):
            errors += 1
            first_error = first_error or "the check key was not stored"
        half = args.requests // 2
        for index in range(args.requests):
            if args.grow:
                number = index if index < half else index - half
                is_get = index >= half
            else:
                number = (index * 7919) % args.keys
                is_get = number in set_keys and (index * 2654435761 % 1000) < args.get_ratio * 1000
            key = b"hak:%d" % number
            value = value_for(key, args.value_size)
            before = time.perf_counter_ns()
            if is_get:
                got = conn.get(key)
                ok = got == value or (args.grow and got is None)  # a growing set may be evicted, never wrong
            else:
                ok = conn.set(key, value)
                set_keys.add(number)
            latencies.append(time.perf_counter_ns() - before)
            if not ok:
                errors += 1
                first_error = first_error or "wrong answer for %s" % key.decode()
        if conn.get(CHECK_KEY) != CHECK_VALUE:
            errors += 1
            first_error = first_error or "the check key did not read back"
    except (OSError, ValueError, ConnectionError) as error:
        errors += 1
        first_error = first_error or str(error)
    seconds = time.perf_counter() - started
    latencies.sort()
    result = {
        "test": "grow" if args.grow else "get/set",
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 2) if seconds > 0 else 0,
        "p50_ms": round(percentile(latencies, 0.50) / 1e6, 4) if latencies else 0,
        "p99_ms": round(percentile(latencies, 0.99) / 1e6, 4) if latencies else 0,
        "max_ms": round(latencies[-1] / 1e6, 4) if latencies else 0,
        "errors": errors,
    }
    if first_error:
        result["error"] = first_error
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
