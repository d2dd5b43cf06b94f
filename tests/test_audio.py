"""bot.audio with real audio through the real decoder: every kind Telegram sends comes out as 16
kHz mono, long audio is cut at a pause before each 30 s mark, and what cannot be heard is told
apart."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc

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


def test_a_tiny_file_claiming_a_rate_of_a_few_hertz_is_damaged_without_filling_memory() -> None:
    # 10 KB of FLAC at 40 Hz in 65535-sample frames: one frame is 1638 s, minutes of 16 kHz
    # output (hundreds of MB) if it reached the resampler.
    bomb = sounds.flac_without_length(40, 65535)
    assert len(bomb) < 20_000
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableFile) as caught:
            audio.decode_samples(bomb, "bomb.flac", max_seconds=300)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.reason == "damaged"
    assert peak < 10 * 1024 * 1024, f"{peak / 2**20:.0f} MB held for {len(bomb)} bytes"


def test_a_frame_past_the_limit_is_refused_before_it_is_resampled() -> None:
    # 8 kHz FLAC in 65535-sample frames (8.2 s each), no length in its header: the second
    # frame passes a 10 s limit, counted from the frames themselves.
    data = sounds.flac_without_length(8_000, 65535, blocks=3)
    tracemalloc.start()
    try:
        with pytest.raises(VoiceTooLong) as caught:
            audio.decode_samples(data, "long.flac", max_seconds=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.seconds == pytest.approx(2 * 65535 / 8_000)
    assert peak < 2 * 1024 * 1024, "the second frame was never resampled"


def test_an_mp3_with_a_latin1_id3v1_title_is_heard() -> None:
    data = sounds.with_id3v1_title(sounds.mp3_file(2.0), "Café del Mar")
    samples = audio.decode_samples(data, "cafe.mp3", max_seconds=300)
    assert audio.seconds(samples) == pytest.approx(2.0, abs=0.1)


def test_joined_mp3s_of_different_rates_and_channels_are_heard_whole() -> None:
    # `cat part1.mp3 part2.mp3`: a stereo 44.1 kHz part, then a mono 22.05 kHz one
    first = sounds.mp3_file(3.0)
    second = sounds.encoded(
        sounds.speech_like(3.0, 22_050), 22_050, container="mp3", codec="libmp3lame"
    )
    samples = audio.decode_samples(
        first + sounds.without_id3v2(second), "both.mp3", max_seconds=300
    )
    assert audio.seconds(samples) == pytest.approx(6.0, abs=0.2)


def test_an_mp3_is_not_refused_for_a_length_ffmpeg_guessed() -> None:
    # A VBR MP3 without a Xing header that starts quiet: FFmpeg guesses ~300 s from its first
    # frame; it lasts 80 s.
    rate = 22_050
    noise = np.random.default_rng(0).standard_normal(rate * 77) * 8000
    loud = noise.clip(-32767, 32767).astype(np.int16)
    data = sounds.vbr_mp3_without_xing(np.concatenate([np.zeros(rate * 3, np.int16), loud]), rate)
    samples = audio.decode_samples(data, "talk.mp3", max_seconds=100)
    assert audio.seconds(samples) == pytest.approx(80.0, abs=0.2)


def test_a_silent_note_with_the_click_of_the_record_button_is_silent() -> None:
    samples = np.zeros(3 * audio.SAMPLE_RATE, np.int16)
    samples[8000:8320] = 3277  # 20 ms at -20 dBFS
    assert audio.is_silent(samples)


def test_quiet_low_noise_is_silent() -> None:
    hiss = np.random.default_rng(1).standard_normal(3 * audio.SAMPLE_RATE) * 30  # -60 dBFS
    assert audio.is_silent(hiss.astype(np.int16))


def test_quiet_but_clear_speech_is_not_silent() -> None:
    # about -45 dBFS RMS: a whisper, a phone on the table; Whisper evens levels out and hears it
    speech = sounds.speech_like(5.0, audio.SAMPLE_RATE).astype(np.float64) * 0.025
    assert not audio.is_silent(speech.astype(np.int16))


def test_no_last_piece_is_a_breath_long() -> None:
    # 30.5 s of steady sound whose only pause is at 29.8 s: cut there, the last piece would
    # be 0.7 s, a request for a breath (and words Whisper makes up).
    t = np.arange(int(30.5 * audio.SAMPLE_RATE)) / audio.SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    tone[(t >= 29.8) & (t < 29.9)] = 0.0
    samples = (tone * 32767).astype(np.int16)
    cut = audio.pieces(samples)
    assert len(cut) == 2
    assert audio.seconds(cut[-1]) >= 1.0
    assert audio.seconds(cut[0]) <= audio.PIECE_SECONDS
    assert sum(piece.size for piece in cut) == samples.size


def test_two_tagged_mp3s_joined_with_cat_are_heard_whole() -> None:
    # Each part has the ID3v2 tag every encoder writes: the one in the middle will not
    # decode, and is passed over.
    joined = sounds.mp3_file(3.0) + sounds.mp3_file(2.0)
    samples = audio.decode_samples(joined, "both.mp3", max_seconds=300)
    assert audio.seconds(samples) == pytest.approx(5.0, abs=0.2)
