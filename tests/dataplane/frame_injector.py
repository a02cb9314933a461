#!/usr/bin/env python3
"""Injects malformed replink frames onto an interface (AF_PACKET raw socket), run inside the
primary's network namespace so they reach the secondary's af_packet port alongside real traffic.

Frames: random bytes; our EtherType with random payloads; well-formed link headers with one field
broken (magic, version, type, flags, lengths, reserved bytes, records) and a *correct* CRC32C, so
the parser's deeper checks are exercised, not just the checksum. Prints how many were sent.
"""

import argparse
import random
import socket
import struct

ETHERTYPE = 0x88B5
MAGIC = 0x4B4C5052

_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def header(ftype, flags, stream, payload_len, epoch=0, seq=0, session=0):
    # LinkHeader (link/link_protocol.h), 96 bytes, little-endian, frame_crc at offset 56.
    return bytearray(struct.pack("<IBBHIIQQQQIIII12sI16s", MAGIC, 1, ftype, flags, stream, payload_len, epoch, seq,
                                 0, 0, 0, session, 0, 0, bytes(12), 0, bytes(16)))


def seal(hdr, payload):
    frame = bytes(hdr) + payload
    crc = crc32c(frame)
    frame = frame[:56] + struct.pack("<I", crc) + frame[60:]
    return frame


def malformed(rng):
    kind = rng.randrange(8)
    if kind == 0:  # random bytes with our EtherType
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 1400)))
    payload = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 1200)))
    hdr = header(3, 0, 1, len(payload), epoch=rng.randrange(1, 100), seq=rng.randrange(0, 100))
    if kind == 1:
        hdr[0:4] = struct.pack("<I", rng.getrandbits(32))
    elif kind == 2:
        hdr[4] = rng.randrange(2, 256)
    elif kind == 3:
        hdr[5] = rng.choice([0, 8, 9, 200])
    elif kind == 4:
        hdr[6:8] = struct.pack("<H", rng.getrandbits(16) | 0x20)
    elif kind == 5:
        hdr[12:16] = struct.pack("<I", len(payload) + rng.randrange(1, 5000))
    elif kind == 6:
        hdr[64 + rng.randrange(0, 32)] = rng.randrange(1, 256)  # reserved encryption room
    # kind 7: valid header, garbage records (DATA)
    return seal(hdr, payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", default="replink0")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((args.iface, 0))
    dst = b"\xff" * 6
    src = bytes([0x02, 0, 0, 0, 0, 0x99])
    sent = 0
    for _ in range(args.count):
        body = malformed(rng)
        s.send(dst + src + struct.pack("!H", ETHERTYPE) + body)
        sent += 1
    print(f"injected {sent} malformed frames")


if __name__ == "__main__":
    main()
