#!/usr/bin/env python3
"""Writes Tests/TransportTests/Fixtures/sigv4/*.json: requests signed with AWS Signature V4 by
botocore (an implementation independent of the agent's), at a fixed time with fixed credentials.
The Swift tests (SigV4SignerTests) sign the same inputs and must produce the same headers.

Usage: python3 scripts/generate-sigv4-fixtures.py   (needs botocore: pip install botocore)

The remote-write bodies are real Remote Write 1.0 requests: a protobuf WriteRequest built here
by hand, compressed as a Snappy block of literals (valid Snappy that any decoder reads).
"""
import base64
import datetime
import hashlib
import json
import os
import sys
from unittest import mock

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TransportTests", "Fixtures", "sigv4")

# The example credentials of AWS's Signature V4 documentation and test suite.
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire_type, payload):
    key = varint(number << 3 | wire_type)
    if wire_type == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def write_request(series):
    """prometheus.WriteRequest { repeated TimeSeries timeseries = 1; } with
    TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; },
    Label { string name = 1; string value = 2; }, Sample { double value = 1; int64 timestamp = 2; }."""
    import struct
    body = b""
    for labels, value, timestamp in series:
        ts = b""
        for name, label_value in labels:
            ts += field(1, 2, field(1, 2, name.encode()) + field(2, 2, label_value.encode()))
        sample = field(1, 1, struct.pack("<d", value)) + field(2, 0, varint(timestamp))
        ts += field(2, 2, sample)
        body += field(1, 2, ts)
    return body


def snappy_literals(data):
    """A Snappy block holding `data` as literals of at most 60 bytes each."""
    out = bytearray(varint(len(data)))
    for start in range(0, len(data), 60):
        chunk = data[start:start + 60]
        out.append((len(chunk) - 1) << 2)
        out += chunk
    return bytes(out)


REMOTE_WRITE_HEADERS = [
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ("User-Agent", "metrics-agent/0.0.0-test"),
]

BODY = snappy_literals(write_request([
    ([("__name__", "up"), ("instance", "node-1:9100"), ("job", "node")], 1.0, 1700000000000),
    ([("__name__", "node_load1"), ("instance", "node-1:9100"), ("job", "node")], 0.42, 1700000000000),
]))

CASES = [
    {
        "name": "remote-write",
        "method": "POST",
        "url": "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234abcd-12ab-34cd-56ef-1234567890ab/api/v1/remote_write",
        "headers": REMOTE_WRITE_HEADERS,
        "body": BODY,
        "region": "us-east-1", "service": "aps",
        "time": "2023-11-14T22:13:20Z",
        "token": None,
    },
    {
        "name": "session-token-and-extra-headers",
        "method": "POST",
        "url": "http://receiver.example:9090/api/v1/write",
        "headers": REMOTE_WRITE_HEADERS + [
            ("X-Scope-OrgID", "  tenant   one "),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("Retry-Attempt", "2"),
        ],
        "body": BODY,
        "region": "eu-west-1", "service": "aps",
        "time": "2024-02-29T23:59:59Z",
        "token": SESSION_TOKEN,
    },
    {
        "name": "path-and-query",
        "method": "POST",
        "url": "https://aps-workspaces.ap-southeast-2.amazonaws.com/a/./b//c/../d%20e/~f@g/write?b=2&a=1&a=0",
        "headers": REMOTE_WRITE_HEADERS,
        "body": b"",
        "region": "ap-southeast-2", "service": "execute-api",
        "time": "2030-01-01T00:00:00Z",
        "token": None,
    },
    {
        "name": "get-without-body",
        "method": "GET",
        "url": "https://example.amazonaws.com/",
        "headers": [("Accept", "application/json")],
        "body": b"",
        "region": "us-west-2", "service": "aps",
        "time": "2023-11-14T22:13:20Z",
        "token": None,
    },
]


def sign(case):
    when = datetime.datetime.strptime(case["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    request = AWSRequest(method=case["method"], url=case["url"], data=case["body"])
    for name, value in case["headers"]:
        request.headers[name] = value  # appends: repeated names stay repeated, in order
    payload_hash = hashlib.sha256(case["body"]).hexdigest()
    request.headers["X-Amz-Content-SHA256"] = payload_hash
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, case["token"])
    signer = botocore.auth.SigV4Auth(credentials, case["service"], case["region"])
    seen = []
    original = signer.canonical_request

    def recording(req):
        seen.append(original(req))
        return seen[-1]

    signer.canonical_request = recording
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        signer.add_auth(request)
    canonical = seen[-1]
    signed = {name: request.headers[name] for name in ["X-Amz-Date", "X-Amz-Security-Token", "Authorization"] if name in request.headers}
    signed["X-Amz-Content-Sha256"] = payload_hash
    return {
        "generator": f"botocore {botocore.__version__} SigV4Auth",
        "name": case["name"],
        "method": case["method"],
        "url": case["url"],
        "headers": [[name, value] for name, value in case["headers"]],
        "bodyBase64": base64.b64encode(case["body"]).decode(),
        "accessKeyID": ACCESS_KEY,
        "secretAccessKey": SECRET_KEY,
        "sessionToken": case["token"],
        "region": case["region"],
        "service": case["service"],
        "unixMilliseconds": int(when.timestamp()) * 1000,
        "expected": signed,
        "canonicalRequest": canonical,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for case in CASES:
        path = os.path.join(OUT, case["name"] + ".json")
        with open(path, "w") as f:
            json.dump(sign(case), f, indent=2, sort_keys=True)
            f.write("\n")
        print(path, file=sys.stderr)


if __name__ == "__main__":
    main()
