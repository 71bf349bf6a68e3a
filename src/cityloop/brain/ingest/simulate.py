"""``cityloop brain simulate``: the simulator's readings sent over HTTP, MQTT, NATS or in-process.

With ``--rate R`` the simulated clock runs R times faster than real time; it starts ``duration × R``
seconds in the past so it reaches the present when the run ends (readings are never from the future).
"""

from __future__ import annotations

import time
import urllib.request

import orjson

from cityloop.brain import demo
from cityloop.brain.ingest import bus
from cityloop.brain.ingest.codec import encode_json


def _send_http(batch, url: str, token: str) -> dict:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--url must be an http:// or https:// address, not {url!r}")
    req = urllib.request.Request(  # noqa: S310 (scheme checked above)
        f"{url.rstrip('/')}/api/v1/brain/readings",
        data=encode_json(batch),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 (the scheme is checked to be http(s) above)
        return orjson.loads(resp.read())


def run(command, opts) -> None:
    from cityloop.brain.management.commands.brain import _city

    city = _city("")
    demo.register_demo_devices(city, opts["devices"])
    rate, duration, via = opts["rate"], opts["duration"], opts["via"]
    now = time.time()
    sim = demo.simulator_for_demo(start=now - duration * rate, limit=opts["devices"])
    if opts["problems"]:
        sim.inject(within_s=duration * rate)
    if via == "http" and not opts["token"]:
        from django.core.management.base import CommandError

        raise CommandError(
            "token: --via http needs --token (a token with scope brain: cityloop token create)"
        )
    nats = bus.Nats() if via == "nats" else None
    if nats:
        nats.ensure_stream()
    mqtt = bus.Mqtt(f"cityloop-sim-{int(now)}") if via == "mqtt" else None
    sent = messages = 0
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            target = min(now - duration * rate + (elapsed + 1.0) * rate, time.time())
            batch = sim.until(target)
            if len(batch):
                if via == "inproc":
                    from cityloop.brain.actions import upload_readings

                    upload_readings(batch, source="simulator")
                    messages += 1
                elif via == "http":
                    _send_http(batch, opts["url"], opts["token"])
                    messages += 1
                elif via == "nats":
                    chunks = [encode_json(_slice(batch, i, i + 5000)) for i in range(0, len(batch), 5000)]
                    nats.publish_many(chunks)
                    messages += len(chunks)
                else:
                    infos = [
                        mqtt.publish(bus.device_topic(d), orjson.dumps({"t": int(t), "v": float(v)}))
                        for d, t, v in zip(batch.device, batch.ts, batch.value, strict=True)
                    ]
                    for info in infos:  # every PUBACK: a reading the broker did not take is not counted
                        info.wait_for_publish(30)
                    messages += len(infos)
                sent += len(batch)
            if elapsed >= duration:
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started - elapsed)))
    finally:
        if nats:
            nats.close()
        if mqtt:
            mqtt.close()
    took = time.monotonic() - started
    command.stdout.write(
        f"simulate via {via}: {sent} readings in {messages} messages from {len(sim.codes)} "
        f"devices in {took:.1f} s ({sent / max(took, 1e-9):.0f} readings/s)"
    )


def _slice(batch, a: int, b: int):
    from cityloop.brain.ingest.codec import Batch

    return Batch(batch.device[a:b], batch.ts[a:b], batch.value[a:b])
