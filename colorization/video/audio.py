"""The sound of a video, carried into the colorized one: every audio stream's packets copied as they are, read
from a second opening of the input and muxed in step with the video (by time), so memory stays flat however long
the film. A codec the output container cannot hold (8-bit PCM or ADPCM of old cameras, in MP4) is re-encoded to
AAC, and said so."""
import io

from .pyav import pyav


# Audio is muxed this far ahead of the last video frame: the muxer interleaves by time within that window.
LEAD_S = 0.5
_NAMED_LAYOUTS = {1: "mono", 2: "stereo"}


def _container_takes(stream, format_name):
    """Whether `format_name` can hold `stream`'s packets unchanged (tried on a throw-away output in memory)."""
    av = pyav()

    try:
        probe = av.open(io.BytesIO(), "w", format=format_name)
        try:
            probe.add_stream_from_template(stream)
            probe.start_encoding()
        finally:
            probe.close()
    except (av.error.FFmpegError, ValueError):
        return False
    return True


def _layout(stream):
    layout = stream.layout.name
    return _NAMED_LAYOUTS.get(stream.codec_context.channels, layout) if layout.endswith("channels") else layout


class AudioTrack:
    """copy_until(t): mux the audio of [.., t + LEAD_S]; finish(end): the rest (end None) or up to `end` seconds.
    notes: what the user should know (a stream re-encoded, the audio damaged)."""

    def __init__(self, path, output, format_name):
        av = pyav()

        self._input = av.open(path)
        self.notes = []
        self._outputs = {}  # input stream index -> (output stream, re-encode?)
        for stream in self._input.streams.audio:
            if _container_takes(stream, format_name):
                self._outputs[stream.index] = (output.add_stream_from_template(stream), False)
                continue
            name = stream.codec_context.name
            encoder = output.add_stream("aac", rate=stream.rate, layout=_layout(stream))
            self._outputs[stream.index] = (encoder, True)
            self.notes.append(f"audio stream {stream.index} ({name}) cannot go into {format_name} as it is: "
                              f"re-encoded to AAC (an .mkv output keeps it unchanged)")
        self._output = output
        self._packets = self._input.demux(*self._input.streams.audio)
        self._pending = None
        self._done = False
        self._last_time = 0.0

    def copy_until(self, seconds):
        av = pyav()

        while not self._done:
            if self._pending is None:
                try:
                    self._pending = next(self._packets, None)
                except av.error.FFmpegError as e:
                    self.notes.append(f"the audio is damaged after {self._last_time:.3f} s and stops there ({e})")
                    self._pending = None
                if self._pending is None:
                    self._flush()
                    return
            packet = self._pending
            if packet.dts is None:  # a demuxer's empty end-of-stream packet
                self._pending = None
                continue
            when = packet.pts if packet.pts is not None else packet.dts
            if seconds is not None and float(when * packet.time_base) > seconds + LEAD_S:
                return
            self._pending = None
            self._last_time = float(when * packet.time_base)
            self._mux(packet)

    def _mux(self, packet):
        stream, reencode = self._outputs[packet.stream.index]
        if not reencode:
            packet.stream = stream
            self._output.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder counts samples itself
            self._output.mux(stream.encode(frame))

    def _flush(self):
        self._done = True
        for stream, reencode in self._outputs.values():
            if reencode:
                self._output.mux(stream.encode(None))

    def finish(self, end=None):
        """After the last video frame: the rest of the sound, or (end in seconds: the picture stopped early at
        damage) the sound up to there."""
        if end is None:
            self.copy_until(None)
        else:
            self.copy_until(end - LEAD_S)
            if not self._done:
                self._flush()
        self.close()

    def close(self):
        self._input.close()
