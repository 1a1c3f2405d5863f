#!/usr/bin/env python3
"""Send an N-MNIST recording to bisnnd as one segment of native event messages.

Written from docs/protocol.md alone: pyzmq and struct, nothing else.

    python3 examples/publisher.py --endpoint tcp://127.0.0.1:5555 --sensor cam0 recording.bin

The recording becomes messages of at most --max-events events: START on the first, END on the last, sequence
numbers +1 from --first-seq. Each message's time base is 0 while its events are below 2^32 µs (their offsets
are then the recording's own timestamps), else its first event's time. With --speed 1 (the default) the
messages go out in real time, each when its last event happened; --speed 10 is ten times faster, --speed max
as fast as possible. A service in segment mode answers with one prediction.
"""

import argparse
import struct
import sys
import time

import zmq

HEADER = struct.Struct("<4sBBHHHIQQ")  # magic, version, encoding, flags, width, height, count, sequence, time base
EVENT = struct.Struct("<IHH")  # offset from the time base (µs), x, y | polarity << 15
START, END = 1, 2
NATIVE = 1
MAX_OFFSET = 2**32 - 1
SPAN_US = 1000  # in real time, a message holds at most 1 ms of events


def read_nmnist(path):
    """The events (t_us, x, y, polarity) of an N-MNIST .bin file.

    Each event is 5 bytes, big-endian: x, y, then polarity in bit 7 and a 23-bit microsecond timestamp. A
    record with y = 240 marks a timer overflow: every later timestamp gains 2^13 µs.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % 5:
        raise ValueError(f"{path}: {len(data)} bytes is not a whole number of 5-byte N-MNIST events")
    events = []
    base = 0
    for i in range(0, len(data), 5):
        x, y, b2, b3, b4 = data[i : i + 5]
        if y == 240:
            base += 1 << 13
            continue
        t = base + ((b2 & 0x7F) << 16 | b3 << 8 | b4)
        events.append((t, x, y, b2 >> 7))
    return events


def chunks(events, max_events, span_us):
    """Splits events into messages: (time base, events). At most max_events each, their times within
    0 ... 2^32 - 1 µs of the time base, and spanning at most span_us (None: no limit)."""
    start = 0
    while start < len(events):
        first = events[start][0]
        base = 0 if first <= MAX_OFFSET else first
        end = start + 1
        while end < len(events) and end - start < max_events:
            t = events[end][0]
            if t < base or t - base > MAX_OFFSET:
                break
            if span_us is not None and t - first > span_us:
                break
            end += 1
        yield base, events[start:end]
        start = end


def event_message(sensor, seq, events, width, height, flags, time_base):
    """The three frames of a native event message."""
    payload = b"".join(EVENT.pack(t - time_base, x, y | (p << 15)) for t, x, y, p in events)
    header = HEADER.pack(b"BSEV", 1, NATIVE, flags, width, height, len(events), seq, time_base)
    return [f"events/{sensor}".encode("ascii"), header, payload]


def main():
    parser = argparse.ArgumentParser(description="Send an N-MNIST recording to bisnnd as one segment.")
    parser.add_argument("file", help="an N-MNIST .bin recording")
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="the service's input.pull_bind")
    parser.add_argument("--sensor", default="cam0", help="sensor name: topic events/<sensor>")
    parser.add_argument("--width", type=int, default=34, help="sensor width (N-MNIST: 34)")
    parser.add_argument("--height", type=int, default=34, help="sensor height (N-MNIST: 34)")
    parser.add_argument("--max-events", type=int, default=4096, help="most events in one message")
    parser.add_argument("--first-seq", type=int, default=0, help="sequence number of the first message")
    parser.add_argument("--speed", default="1", help="a factor of real time, or max")
    parser.add_argument("--timeout", type=float, default=10, help="seconds to wait for the service to take a message")
    args = parser.parse_args()

    speed = None if args.speed == "max" else float(args.speed)
    events = read_nmnist(args.file)
    messages = list(chunks(events, args.max_events, None if speed is None else SPAN_US * speed))
    if not messages:
        messages = [(0, [])]  # an empty recording is still one segment

    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.IMMEDIATE, 1)  # queue only to a connected service, so a missing one times out
    push.setsockopt(zmq.SNDTIMEO, int(args.timeout * 1000))
    push.setsockopt(zmq.LINGER, int(args.timeout * 1000))  # closing waits for the last messages to leave
    push.connect(args.endpoint)

    started = time.monotonic()
    first_t = events[0][0] if events else 0
    try:
        for i, (time_base, part) in enumerate(messages):
            flags = (START if i == 0 else 0) | (END if i == len(messages) - 1 else 0)
            if speed is not None and part:
                due = started + (max(t for t, _, _, _ in part) - first_t) / 1e6 / speed
                time.sleep(max(0.0, due - time.monotonic()))
            push.send_multipart(
                event_message(args.sensor, args.first_seq + i, part, args.width, args.height, flags, time_base))
    except zmq.Again:
        print(f"publisher.py: nothing at {args.endpoint} took the messages within {args.timeout} s "
              "(is bisnnd running?)", file=sys.stderr)
        push.close(linger=0)
        ctx.term()
        return 1
    push.close()
    ctx.term()
    print(f"sent {len(events)} events in {len(messages)} messages as {args.sensor} to {args.endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
