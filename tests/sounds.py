"""Audio made for the tests with PyAV: voice notes as Telegram's apps record them (OGG/Opus, 48
kHz mono), audio files (MP3, M4A/AAC), round video notes (MP4 with sound), silence."""

from __future__ import annotations

import io
import wave

import av
import numpy as np

PAUSE_EVERY_S = 4.0  # "speech": a tone that pauses for PAUSE_S every PAUSE_EVERY_S seconds
PAUSE_S = 0.4


def speech_like(seconds: float, rate: int, *, silent: bool = False) -> np.ndarray:
    """A tone (-10 dBFS) that pauses for 0.4 s every 4 s, like words and breaths; or silence."""
    count = int(seconds * rate)
    if silent:
        return np.zeros(count, dtype=np.int16)
    t = np.arange(count) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)
    paused = (t % PAUSE_EVERY_S) >= PAUSE_EVERY_S - PAUSE_S
    tone[paused] = 0.0
    return (tone * 32767).astype(np.int16)


def encoded(
    samples: np.ndarray,
    rate: int,
    *,
    container: str,
    codec: str,
    layout: str = "mono",
    bit_rate: int | None = None,
) -> bytes:
    """`samples` (mono) encoded with `codec` in `container`, as `layout` (mono or stereo)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        step = 960
        for start in range(0, samples.size, step):
            block = samples[start : start + step]
            planes = np.stack([block, block]).T if layout == "stereo" else block[:, None]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planes).reshape(1, -1), format="s16", layout=layout
            )
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def voice_note(seconds: float, *, silent: bool = False, rate: int = 48_000) -> bytes:
    """An OGG/Opus voice note as Telegram's apps send it."""
    samples = speech_like(seconds, rate, silent=silent)
    # Telegram's apps record Opus at about 32 kbit/s
    return encoded(samples, rate, container="ogg", codec="libopus", bit_rate=32_000)


def mp3_file(seconds: float) -> bytes:
    """A stereo 44.1 kHz MP3 of "speech"."""
    return encoded(speech_like(seconds, 44_100), 44_100, container="mp3", codec="libmp3lame",
                   layout="stereo")  # fmt: skip


def m4a_file(seconds: float) -> bytes:
    """An AAC audio file in an M4A container."""
    return encoded(speech_like(seconds, 44_100), 44_100, container="ipod", codec="aac")


def video_note(seconds: float) -> bytes:
    """A round video note: a small MP4 with an H.264 picture and AAC sound."""
    rate = 16_000
    samples = speech_like(seconds, rate)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=10)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        sound = out.add_stream("aac", rate=rate, layout="mono")
        assert isinstance(sound, av.AudioStream)
        for index in range(int(seconds * 10)):
            picture = av.VideoFrame.from_ndarray(
                np.full((64, 64, 3), index % 255, dtype=np.uint8), format="rgb24"
            )
            picture.pts = index
            for packet in video.encode(picture):
                out.mux(packet)
        for start in range(0, samples.size, 1024):
            frame = av.AudioFrame.from_ndarray(
                samples[None, start : start + 1024], format="s16", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            for packet in sound.encode(frame):
                out.mux(packet)
        for stream in (video, sound):
            for packet in stream.encode(None):
                out.mux(packet)
    return buffer.getvalue()


def corrupt_file() -> bytes:
    """Bytes that claim to be an OGG file and are not one."""
    return b"OggS" + bytes(range(256)) * 40


def wav_facts(data: bytes) -> tuple[int, int, int, float]:
    """(channels, sample rate, bytes per sample, seconds) of a WAV file."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        rate = wav.getframerate()
        return wav.getnchannels(), rate, wav.getsampwidth(), wav.getnframes() / rate


def flac_without_length(rate: int, block: int, blocks: int = 3) -> bytes:
    """Silent FLAC at `rate` Hz in `block`-sample frames whose header gives no total length: a
    few kilobytes that decode to one huge frame when the rate is tiny."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as out:
        stream = out.add_stream(
            "flac", rate=rate, layout="mono", options={"frame_size": str(block)}
        )
        for start in range(0, block * blocks, block):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, block), np.int16), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = bytearray(buffer.getvalue())
    data[8 + 13] &= 0xF0  # STREAMINFO's total samples: 0, "unknown"
    data[8 + 14 : 8 + 18] = b"\0\0\0\0"
    return bytes(data)


def without_id3v2(mp3: bytes) -> bytes:
    """The MP3 as older rippers wrote it, without an ID3v2 tag at its start."""
    if mp3[:3] != b"ID3":
        return mp3
    size = mp3[6:10]
    return mp3[10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3]) :]


def with_id3v1_title(mp3: bytes, title: str) -> bytes:
    """The MP3 with an ID3v1 tag at its end whose title is in Latin-1, as old tags were."""
    tag = b"TAG" + title.encode("latin-1").ljust(30, b"\0") + b"\0" * 95
    return without_id3v2(mp3) + tag


def vbr_mp3_without_xing(samples: np.ndarray, rate: int) -> bytes:
    """A VBR MP3 with no Xing/Info header (as a cut or streamed file), so FFmpeg guesses its
    length from its first frame's bit rate."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3", options={"write_xing": "0"}) as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        stream.codec_context.qscale = True  # a quality, not a bit rate: VBR
        for start in range(0, samples.size, 1152):
            block = np.ascontiguousarray(samples[start : start + 1152][None, :])
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def wav_file(seconds: float, rate: int = 16_000) -> bytes:
    """A mono 16-bit WAV file of "speech"."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(speech_like(seconds, rate).astype("<i2").tobytes())
    return buffer.getvalue()
