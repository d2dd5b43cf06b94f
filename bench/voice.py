"""Voice benchmark: decoding a voice message as the bot does, before it is transcribed.

    .venv/bin/python -m bench.voice [--seconds 60] [--runs 20]

Makes a voice message as Telegram's apps record it (OGG/Opus, 48 kHz mono, 32 kbit/s) of
`--seconds` seconds with PyAV, then times, `--runs` times each: decoding and resampling it to
16 kHz mono (bot.audio.decode_samples), and all the bot does before transcribing (decoding,
cutting into pieces of at most 30 s at a pause, the silence check, a WAV per piece). Prints
p50/p95 of the wall-clock time and the CPU time of the whole preparation.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from bench import p50_p95
from bot import audio
from tests.sounds import voice_note


def prepare(data: bytes) -> list[bytes]:
    """What the bot does with a voice message before a transcriber hears it."""
    samples = audio.decode_samples(data, "note", max_seconds=3600)
    return [audio.wav_bytes(p) for p in audio.pieces(samples) if not audio.is_silent(p)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    data = voice_note(args.seconds)
    decode_ms, prepare_ms, cpu_ms = [], [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        audio.decode_samples(data, "note", max_seconds=3600)
        decode_ms.append((time.perf_counter() - start) * 1000)
        start, cpu = time.perf_counter(), time.process_time()
        pieces = prepare(data)
        prepare_ms.append((time.perf_counter() - start) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
    size_kb = len(data) / 1024
    print(f"voice message: {args.seconds:g} s of OGG/Opus, {size_kb:.0f} KB, {len(pieces)} pieces")
    print("decode to 16 kHz mono: p50 {:.1f} ms, p95 {:.1f} ms".format(*p50_p95(decode_ms)))
    print("decode + cut + WAVs:   p50 {:.1f} ms, p95 {:.1f} ms".format(*p50_p95(prepare_ms)))
    print(f"CPU of the whole:      p50 {p50_p95(cpu_ms)[0]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
