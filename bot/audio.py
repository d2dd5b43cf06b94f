"""Audio as transcribers take it: 16 kHz mono pieces of at most 30 s, each a WAV.

The only module that imports PyAV (`av`), whose wheels carry FFmpeg's libraries: a voice note
(OGG/Opus), an audio file (MP3, M4A/AAC, WAV, FLAC…) or a round video note (MP4, its sound) is
decoded and resampled to 16 kHz mono, what Whisper and Ollama's audio models listen to. Longer
audio is cut into pieces at the quietest moment shortly before each 30 s mark, so no word is
cut in half where a pause was near. Decoding stops past the length allowed, whatever the file
claims about itself, and `decode` runs it in a thread that ends within a packet of being
cancelled (/stop, shutdown).
"""

from __future__ import annotations

import asyncio
import io
import threading
import wave

import av
import numpy as np
import numpy.typing as npt

from bot.errors import ReadingStopped, UnreadableFile, VoiceTooLong

SAMPLE_RATE = 16_000  # what Whisper and Ollama's audio models take
PIECE_SECONDS = 30.0  # the most audio Ollama's audio models take at once
CUT_SEARCH_SECONDS = 5.0  # the quietest moment is looked for in the last 5 s before each mark
BLOCK_SAMPLES = 320  # loudness is measured over 20 ms blocks
# A 20 ms block louder than -40 dBFS is sound; a clip without any is silence. A phone's voice
# note of a room without speech stays near -60 dBFS; speech reaches -30 to -10 dBFS.
SILENCE_RMS = 32768 * 10 ** (-40 / 20)
LENGTH_GRACE_SECONDS = 1.0  # containers round durations: 300.4 s of audio is a 300 s note

Samples = npt.NDArray[np.int16]


def decode_samples(
    data: bytes, name: str, *, max_seconds: float, stop: threading.Event | None = None
) -> Samples:
    """The audio of `data` as 16 kHz mono 16-bit samples.

    UnreadableFile ("damaged", or "no_sound" for a video without sound), VoiceTooLong once
    more than `max_seconds` is decoded (or declared), ReadingStopped when `stop` is set.
    """
    limit = int((max_seconds + LENGTH_GRACE_SECONDS) * SAMPLE_RATE)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise UnreadableFile(name, "no_sound")
            stream = container.streams.audio[0]
            declared = (container.duration or 0) / av.time_base
            if declared > max_seconds + LENGTH_GRACE_SECONDS:
                raise VoiceTooLong(name, declared, max_seconds)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            chunks: list[Samples] = []
            decoded = 0
            for frame in container.decode(stream):
                if stop is not None and stop.is_set():
                    raise ReadingStopped()
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                    chunks.append(chunk)
                    decoded += chunk.size
                if decoded > limit:
                    raise VoiceTooLong(name, decoded / SAMPLE_RATE, max_seconds)
            chunks.extend(
                out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                for out in resampler.resample(None)
            )
    except av.FFmpegError as err:
        raise UnreadableFile(name, "damaged") from err
    if not chunks:
        raise UnreadableFile(name, "damaged")
    return np.concatenate(chunks)


async def decode(data: bytes, name: str, *, max_seconds: float) -> Samples:
    """`decode_samples` in a thread; cancelling the caller stops the decoding too."""
    stop = threading.Event()
    try:
        return await asyncio.to_thread(
            decode_samples, data, name, max_seconds=max_seconds, stop=stop
        )
    except asyncio.CancelledError:
        stop.set()  # the thread sees it before its next packet and ends
        raise


def seconds(samples: Samples) -> float:
    """How long `samples` last."""
    return samples.size / SAMPLE_RATE


def _block_loudness(samples: Samples) -> npt.NDArray[np.float64]:
    """The RMS of each whole 20 ms block."""
    blocks = samples[: samples.size - samples.size % BLOCK_SAMPLES].astype(np.float64)
    if blocks.size == 0:
        return np.zeros(1)
    squares = blocks.reshape(-1, BLOCK_SAMPLES) ** 2
    return np.asarray(np.sqrt(squares.mean(axis=1)), dtype=np.float64)


def is_silent(samples: Samples) -> bool:
    """Whether no 20 ms of `samples` is louder than SILENCE_RMS (-40 dBFS)."""
    return bool(_block_loudness(samples).max() < SILENCE_RMS)


def _quietest(window: Samples) -> int:
    """Where in `window` its quietest 20 ms block is centred."""
    return int(np.argmin(_block_loudness(window))) * BLOCK_SAMPLES + BLOCK_SAMPLES // 2


def pieces(
    samples: Samples,
    *,
    piece_seconds: float = PIECE_SECONDS,
    search_seconds: float = CUT_SEARCH_SECONDS,
) -> list[Samples]:
    """`samples` in pieces of at most `piece_seconds`, each cut at the quietest moment in the
    last `search_seconds` before its end."""
    longest = int(piece_seconds * SAMPLE_RATE)
    search = min(int(search_seconds * SAMPLE_RATE), longest - BLOCK_SAMPLES)
    cut_pieces: list[Samples] = []
    start = 0
    while samples.size - start > longest:
        window_start = start + longest - search
        cut = window_start + _quietest(samples[window_start : start + longest])
        cut_pieces.append(samples[start:cut])
        start = cut
    cut_pieces.append(samples[start:])
    return cut_pieces


def wav_bytes(samples: Samples) -> bytes:
    """`samples` as a 16 kHz mono 16-bit WAV file (RIFF/WAVE header)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()
