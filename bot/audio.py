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
SHORTEST_TAIL_SECONDS = 1.0  # a last piece shorter than a word is cut earlier instead
BLOCK_SAMPLES = 320  # loudness is measured over 20 ms blocks
# A block is sound when it stands 6 dB above the piece's own background (its quietest twentieth)
# and above -60 dBFS (a phone's recording of a quiet room), or louder than -40 dBFS whatever
# the background (a steady tone has no quieter moment to compare with). Whispered speech near
# -45 dBFS is sound; a room's hiss is not.
LOUD_ALWAYS_RMS = 32768 * 10 ** (-40 / 20)
QUIET_FLOOR_RMS = 32768 * 10 ** (-60 / 20)
ABOVE_BACKGROUND = 10 ** (6 / 20)
BACKGROUND_PERCENTILE = 5
# No word is shorter than a quarter of a second: a click (the tap on the record button) is not
# speech, and Whisper makes words up for anything sent to it.
SPOKEN_BLOCKS = 13  # 0.26 s of 20 ms blocks
LENGTH_GRACE_SECONDS = 1.0  # containers round durations: 300.4 s of audio is a 300 s note
# Sample rates real audio uses lie between 8 kHz telephony and 768 kHz studio files; a frame
# claiming a few hertz makes the resampler build minutes of output from a few bytes.
LOWEST_RATE, HIGHEST_RATE = 4_000, 768_000

Samples = npt.NDArray[np.int16]


def decode_samples(
    data: bytes, name: str, *, max_seconds: float, stop: threading.Event | None = None
) -> Samples:
    """The audio of `data` as 16 kHz mono 16-bit samples.

    UnreadableFile ("damaged", or "no_sound" for a video without sound), VoiceTooLong once
    more than `max_seconds` is decoded, ReadingStopped when `stop` is set.
    """
    try:
        # "replace": tags in Latin-1 (old ID3v1 titles) are no reason to refuse the sound.
        with av.open(io.BytesIO(data), mode="r", metadata_errors="replace") as container:
            stream = container.streams.best("audio")
            if not isinstance(stream, av.AudioStream):  # None: a video without sound
                raise UnreadableFile(name, "no_sound")
            # FFmpeg's length is no reason to refuse (it guesses VBR MP3s' from their first
            # frame), only a truer number in the refusal of a file that is too long indeed.
            declared = (container.duration or 0) / av.time_base
            chunks = _decoded(container, stream, name, max_seconds, stop, declared)
    except (av.FFmpegError, ValueError, EOFError) as err:
        # ValueError: PyAV's own checks of what FFmpeg returned (tags, frames, layouts).
        raise UnreadableFile(name, "damaged") from err
    if not chunks:
        raise UnreadableFile(name, "damaged")
    return np.concatenate(chunks)


def _decoded(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    name: str,
    max_seconds: float,
    stop: threading.Event | None,
    declared: float,
) -> list[Samples]:
    """The stream's frames resampled, refused once their own length passes `max_seconds`
    (counted before resampling: one tiny packet can hold minutes)."""
    limit = max_seconds + LENGTH_GRACE_SECONDS
    chunks: list[Samples] = []
    resampler: av.AudioResampler | None = None
    shape: tuple[int, str, str] | None = None
    heard = 0.0  # seconds of input, as the frames say
    # A packet that will not decode is passed over; a file none of whose packets decode has
    # no chunks and is called damaged by the caller.
    for packet in container.demux(stream):
        _check(stop)
        try:
            frames = packet.decode()
        except av.InvalidDataError:  # e.g. the tag of a second MP3 joined on: skip it
            continue
        for frame in frames:
            _check(stop)  # one packet can hold many frames
            if not LOWEST_RATE <= frame.sample_rate <= HIGHEST_RATE:
                raise UnreadableFile(name, "damaged")
            heard += frame.samples / frame.sample_rate
            if heard > limit:
                raise VoiceTooLong(name, max(heard, declared), max_seconds)
            # Joined files change rate or channels midway; a resampler takes one setup only.
            now = (frame.sample_rate, frame.layout.name, frame.format.name)
            if resampler is None or shape != now:
                if resampler is not None:
                    chunks.extend(_samples(resampler.resample(None)))
                resampler, shape = _resampler(), now
            chunks.extend(_samples(resampler.resample(frame)))
    if resampler is not None:
        chunks.extend(_samples(resampler.resample(None)))
    return chunks


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise ReadingStopped()


def _resampler() -> av.AudioResampler:
    return av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)


def _samples(frames: list[av.AudioFrame]) -> list[Samples]:
    return [frame.to_ndarray().reshape(-1).astype(np.int16, copy=False) for frame in frames]


async def decode(data: bytes, name: str, *, max_seconds: float) -> Samples:
    """`decode_samples` in a thread; cancelling the caller stops the decoding too."""
    stop = threading.Event()
    try:
        return await asyncio.to_thread(
            decode_samples, data, name, max_seconds=max_seconds, stop=stop
        )
    except asyncio.CancelledError:
        stop.set()  # the thread sees it before its next packet or frame and ends
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
    """Whether `samples` hold less than a quarter second of sound: blocks standing out from
    the piece's own background noise (or louder than -40 dBFS)."""
    loudness = _block_loudness(samples)
    background = float(np.percentile(loudness, BACKGROUND_PERCENTILE))
    threshold = min(max(background * ABOVE_BACKGROUND, QUIET_FLOOR_RMS), LOUD_ALWAYS_RMS)
    return int(np.count_nonzero(loudness > threshold)) < SPOKEN_BLOCKS


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
    last `search_seconds` before its end, and none but a short whole shorter than a second."""
    longest = int(piece_seconds * SAMPLE_RATE)
    search = min(int(search_seconds * SAMPLE_RATE), longest - BLOCK_SAMPLES)
    tail = min(int(SHORTEST_TAIL_SECONDS * SAMPLE_RATE), search - BLOCK_SAMPLES)
    cut_pieces: list[Samples] = []
    start = 0
    while samples.size - start > longest:
        window_start = start + longest - search
        # A last piece of a breath is a request wasted, and Whisper makes words up for it.
        window_end = min(start + longest, samples.size - tail)
        cut = window_start + _quietest(samples[window_start:window_end])
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
