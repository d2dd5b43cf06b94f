"""bot.audio with real audio through the real decoder: every kind Telegram sends comes out as 16
kHz mono, long audio is cut at a pause before each 30 s mark, and what cannot be heard is told
apart."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from bot import audio
from bot.errors import ReadingStopped, UnreadableFile, VoiceTooLong
from tests import sounds


@pytest.mark.parametrize(
    ("make", "length"),
    [
        (lambda: sounds.voice_note(4.0), 4.0),
        (lambda: sounds.mp3_file(3.0), 3.0),
        (lambda: sounds.m4a_file(3.0), 3.0),
        (lambda: sounds.video_note(2.0), 2.0),
    ],
    ids=["ogg-opus-voice-note", "mp3-stereo", "m4a-aac", "mp4-video-note"],
)
def test_every_kind_becomes_16_khz_mono_of_the_same_length(make, length: float) -> None:
    samples = audio.decode_samples(make(), "clip", max_seconds=300)
    assert samples.dtype == np.int16
    assert audio.seconds(samples) == pytest.approx(length, abs=0.1)
    assert not audio.is_silent(samples)
    channels, rate, width, seconds = sounds.wav_facts(audio.wav_bytes(samples))
    assert (channels, rate, width) == (1, 16_000, 2)
    assert seconds == pytest.approx(length, abs=0.1)


def test_a_long_note_is_cut_at_the_pause_before_each_30_s_mark() -> None:
    samples = audio.decode_samples(sounds.voice_note(70.0), "note", max_seconds=300)
    cut = audio.pieces(samples)
    assert len(cut) == 3
    assert all(audio.seconds(piece) <= audio.PIECE_SECONDS for piece in cut)
    assert sum(piece.size for piece in cut) == samples.size, "nothing lost, nothing doubled"
    ends = np.cumsum([piece.size for piece in cut[:-1]]) / audio.SAMPLE_RATE
    for end in ends:  # the tone pauses 0.4 s before every 4 s mark: 27.6–28.0, 55.6–56.0
        assert end % sounds.PAUSE_EVERY_S >= sounds.PAUSE_EVERY_S - sounds.PAUSE_S - 0.05


def test_a_note_shorter_than_a_piece_stays_whole() -> None:
    samples = audio.decode_samples(sounds.voice_note(5.0), "note", max_seconds=300)
    [whole] = audio.pieces(samples)
    assert whole.size == samples.size


def test_silence_is_silent() -> None:
    samples = audio.decode_samples(sounds.voice_note(3.0, silent=True), "note", max_seconds=300)
    assert audio.is_silent(samples)


def test_a_damaged_file_is_unreadable() -> None:
    with pytest.raises(UnreadableFile) as caught:
        audio.decode_samples(sounds.corrupt_file(), "note", max_seconds=300)
    assert caught.value.reason == "damaged"


def test_audio_longer_than_allowed_stops_decoding() -> None:
    with pytest.raises(VoiceTooLong) as caught:
        audio.decode_samples(sounds.voice_note(12.0), "note", max_seconds=5)
    assert caught.value.limit == 5


def test_decoding_ends_when_told_to_stop() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(ReadingStopped):
        audio.decode_samples(sounds.voice_note(3.0), "note", max_seconds=300, stop=stop)


async def test_cancelling_the_decoding_stops_its_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    data = sounds.voice_note(60.0)
    started, cancelled = threading.Event(), threading.Event()
    real = audio.decode_samples
    finished: list[str] = []

    def watched(*args, **kwargs):
        started.set()
        cancelled.wait()  # the decoding starts once its caller is cancelled
        try:
            return real(*args, **kwargs)
        except ReadingStopped:
            finished.append("stopped")
            raise

    monkeypatch.setattr(audio, "decode_samples", watched)
    task = asyncio.create_task(audio.decode(data, "note", max_seconds=300))
    await asyncio.to_thread(started.wait)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled.set()
    for _ in range(200):  # the thread ends within a packet (a few ms)
        if finished:
            break
        await asyncio.sleep(0.01)
    assert finished == ["stopped"]
