@tool
class_name MienAudio
extends RefCounted
## A line's audio as the sidecar needs it, in the editor and in exported games alike.
##
## [method audio_input] (AnimateLine) sends, in order of preference:
## [br]1. the stream's source file when it exists on disk (editor and development runs), whole;
## [br]2. the samples decoded at runtime by [MienAudio.Decoder]: an imported [AudioStreamWAV]
## with PCM data as it is (s16le), and anything else the engine can play — QOA- or IMA-ADPCM-
## compressed WAVs (the Godot 4.4+ import default is QOA), Ogg Vorbis, MP3 — through
## [method AudioStreamPlayback.mix_audio] (Godot 4.4+) as 32-bit float stereo at the audio
## server's mix rate.
## [br]On Godot 4.3, whose playbacks cannot be mixed from script, compressed WAVs and Ogg/MP3
## streams fail with [code]unsupported_audio[/code] naming the fix (import the WAV with
## Compress > Mode = Disabled, or use Godot 4.4+). [MienTalker.begin_stream] takes PCM from a
## TTS directly and needs no decoding.

const Protocol := preload("res://addons/mien/core/mien_protocol.gd")
const ResultScript := preload("res://addons/mien/mien_result.gd")

## Source file extensions the sidecar decodes itself.
const FILE_EXTENSIONS: PackedStringArray = ["wav", "ogg", "mp3", "flac"]
## Sample frames decoded per [method AudioStreamPlayback.mix_audio] call.
const MIX_BLOCK_FRAMES := 4096


## Incremental decoder of an [AudioStream] into raw PCM: [method read] returns the next samples
## in [member encoding] (s16le or f32le, interleaved [member channels]) at
## [member sample_rate_hz]. Used whole by [method MienAudio.decode] and chunk by chunk by
## streamed lines, so a long line is decoded at the pace it is sent.
class Decoder:
	extends RefCounted

	## Samples per second of the output.
	var sample_rate_hz: int = 0
	## Interleaved channels of the output.
	var channels: int = 1
	## MienProtocol.ENCODING_S16LE or ENCODING_F32LE.
	var encoding: String = Protocol.ENCODING_S16LE
	## Bytes of one sample of one channel (2 or 4).
	var bytes_per_sample: int = 2
	## "" when the stream can be decoded, else why not (an unsupported_audio message).
	var problem: String = ""

	var _raw := PackedByteArray()
	var _raw_offset: int = 0
	var _playback: Variant = null
	var _frames_left: int = 0

	func _init(stream: AudioStream, max_seconds: float = 300.0) -> void:
		if stream == null:
			problem = "no audio stream given"
			return
		if stream is AudioStreamWAV:
			var wav: AudioStreamWAV = stream
			channels = 2 if wav.stereo else 1
			if wav.format == AudioStreamWAV.FORMAT_16_BITS:
				sample_rate_hz = wav.mix_rate
				_raw = wav.data
				return
			if wav.format == AudioStreamWAV.FORMAT_8_BITS:
				sample_rate_hz = wav.mix_rate
				_raw = MienAudio.s8_to_s16(wav.data)
				return
		_open_mixer(stream, max_seconds)

	## True when every sample has been read.
	func is_done() -> bool:
		if not problem.is_empty():
			return true
		if _playback == null:
			return _raw_offset >= _raw.size()
		return _frames_left <= 0

	## Up to [param max_frames] sample frames (all channels) as bytes; empty when done.
	func read(max_frames: int) -> PackedByteArray:
		if not problem.is_empty():
			return PackedByteArray()
		if _playback == null:
			var take := mini(max_frames * channels * bytes_per_sample, _raw.size() - _raw_offset)
			var out := _raw.slice(_raw_offset, _raw_offset + take)
			_raw_offset += take
			return out
		var frames := PackedVector2Array()
		while frames.size() < max_frames and _frames_left > 0:
			var want := mini(mini(MIX_BLOCK_FRAMES, max_frames - frames.size()), _frames_left)
			var block: PackedVector2Array = _playback.call(&"mix_audio", 1.0, want)
			if block.is_empty():
				_frames_left = 0
				break
			frames.append_array(block)
			_frames_left -= block.size()
		return MienAudio.vector2_to_f32(frames)

	func _open_mixer(stream: AudioStream, max_seconds: float) -> void:
		var playback: Variant = stream.instantiate_playback()
		if playback == null or not playback.has_method(&"mix_audio"):
			problem = (
				(
					"%s (%s) holds no raw PCM and this Godot version cannot decode it from script:"
					% [stream.resource_path, stream.get_class()]
				)
				+ " import WAVs with Compress > Mode = Disabled, use Godot 4.4+, or pass the"
				+ " PCM to MienTalker.begin_stream / say_pcm"
			)
			return
		var length := stream.get_length()
		if length <= 0.0:
			problem = "%s has no known length (a generator or microphone?)" % stream.get_class()
			return
		sample_rate_hz = int(AudioServer.get_mix_rate())
		channels = 2
		encoding = Protocol.ENCODING_F32LE
		bytes_per_sample = 4
		_frames_left = ceili(minf(length, max_seconds) * sample_rate_hz)
		playback.call(&"start", 0.0)
		_playback = playback


## The [code]audio[/code] field of an AnimateLine request for [param stream] in
## [member MienResult.data] ([code]{"file": ...}[/code] or [code]{"pcm": ...}[/code]), or an
## [code]unsupported_audio[/code] failure.
static func audio_input(stream: AudioStream) -> ResultScript:
	if stream == null:
		return ResultScript.failure("unsupported_audio", "no audio stream given")
	var source_path := stream.resource_path
	if (
		not source_path.is_empty()
		and source_path.get_extension().to_lower() in FILE_EXTENSIONS
		and FileAccess.file_exists(source_path)
	):
		return ResultScript.success(
			null, Protocol.file_audio(FileAccess.get_file_as_bytes(source_path))
		)
	var decoded := decode(stream)
	if not decoded.ok:
		return decoded
	var info := decoded.data
	return ResultScript.success(
		null,
		Protocol.pcm_audio(
			info["pcm"], int(info["sample_rate_hz"]), int(info["channels"]), info["encoding"]
		)
	)


## All samples of [param stream] in [member MienResult.data]: [code]pcm[/code],
## [code]sample_rate_hz[/code], [code]channels[/code], [code]encoding[/code].
static func decode(stream: AudioStream, max_seconds: float = 300.0) -> ResultScript:
	var decoder := Decoder.new(stream, max_seconds)
	if not decoder.problem.is_empty():
		return ResultScript.failure("unsupported_audio", decoder.problem)
	var pcm := PackedByteArray()
	while not decoder.is_done():
		pcm.append_array(decoder.read(65536))
	return (
		ResultScript
		. success(
			null,
			{
				"pcm": pcm,
				"sample_rate_hz": decoder.sample_rate_hz,
				"channels": decoder.channels,
				"encoding": decoder.encoding,
			}
		)
	)


## Interleaved 32-bit float little-endian bytes of stereo frames.
static func vector2_to_f32(frames: PackedVector2Array) -> PackedByteArray:
	if not OS.has_feature("double"):
		return frames.to_byte_array()
	var floats := PackedFloat32Array()
	floats.resize(frames.size() * 2)
	for index in frames.size():
		floats[index * 2] = frames[index].x
		floats[index * 2 + 1] = frames[index].y
	return floats.to_byte_array()


## Signed 8-bit samples (AudioStreamWAV FORMAT_8_BITS) as s16le.
static func s8_to_s16(samples: PackedByteArray) -> PackedByteArray:
	var out := PackedByteArray()
	out.resize(samples.size() * 2)
	for index in samples.size():
		out.encode_s16(index * 2, samples.decode_s8(index) * 256)
	return out


## s16le [param pcm] as stereo frames in [-1, 1] for an [AudioStreamGenerator].
static func s16_to_frames(pcm: PackedByteArray, channels: int) -> PackedVector2Array:
	var frame_count := pcm.size() / (2 * maxi(channels, 1))
	var frames := PackedVector2Array()
	frames.resize(frame_count)
	for index in frame_count:
		if channels >= 2:
			var base := index * 2 * channels
			frames[index] = Vector2(pcm.decode_s16(base), pcm.decode_s16(base + 2)) / 32768.0
		else:
			var sample := pcm.decode_s16(index * 2) / 32768.0
			frames[index] = Vector2(sample, sample)
	return frames
