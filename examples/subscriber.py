#!/usr/bin/env python3
"""Print bisnnd's predictions as they arrive.

Written from docs/protocol.md alone: pyzmq and json, nothing else.

    python3 examples/subscriber.py --endpoint tcp://127.0.0.1:5556 [--sensor cam0] [--count N] [--timeout S]

One line a prediction:

    cam0 seq=258 label=3 confidence=0.820 mutual_information=0.050 agreement=0.900 latency_ms=1.840

An abstained decision prints label=unknown(3): the service found the confidence too low or the ensemble's
disagreement (mutual information) too high. A decision made on part of its input (messages lost, frames shed
under overload: "complete" is false) prints label=partial(3). --count exits after N predictions; --timeout exits with status 1
when that many seconds pass without one.
"""

import argparse
import json
import sys

import zmq


def describe(message):
    """One line for a prediction."""
    label = message["label"]
    if not message["complete"]:
        label = f"partial({label})"
    elif message["abstained"]:
        label = f"unknown({label})"
    return (f"{message['sensor']} seq={message['seq']} label={label} confidence={message['confidence']:.3f} "
            f"mutual_information={message['mutual_information']:.3f} agreement={message['agreement']:.3f} "
            f"latency_ms={message['latency_us'] / 1000:.3f}")


def main():
    parser = argparse.ArgumentParser(description="Print bisnnd's predictions.")
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5556", help="the service's output.pub_bind")
    parser.add_argument("--sensor", help="only this sensor's predictions")
    parser.add_argument("--count", type=int, help="exit after this many predictions")
    parser.add_argument("--timeout", type=float, help="exit with status 1 after this many seconds without one")
    args = parser.parse_args()

    topic = "predictions/" + (args.sensor or "")
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if args.timeout is not None:
        sub.setsockopt(zmq.RCVTIMEO, int(args.timeout * 1000))
    sub.connect(args.endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))

    seen = 0
    try:
        while args.count is None or seen < args.count:
            try:
                frames = sub.recv_multipart()
            except zmq.Again:
                print(f"subscriber.py: no prediction from {args.endpoint} within {args.timeout} s", file=sys.stderr)
                return 1
            if len(frames) != 2:
                continue
            # Subscriptions match prefixes (predictions/cam1 also delivers predictions/cam10): compare exactly.
            if args.sensor and frames[0] != topic.encode("ascii"):
                continue
            print(describe(json.loads(frames[1])), flush=True)
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
