@tool
class_name MienAudio
extends RefCounted
## Audio helpers: turn an [AudioStream] into the [code]audio[/code] field of a request
## (a whole file, or raw PCM), base64, and PCM chunking for streaming.
##
## Where the bytes come from, in order:
## [br]1. The source file of the stream ([code].wav/.ogg/.mp3/.flac[/code]) when it exists on
## disk (editor and development runs): sent whole, the sidecar decodes it.
## [br]2. An imported [AudioStreamWAV] with 8- or 16-bit PCM data (its import "Compress > Mode"
## must be PCM/Disabled, not IMA ADPCM or QOA): sent as raw PCM with its mix rate and channels.
## [br]3. An [AudioStreamMP3]: its [member AudioStreamMP3.data] is the MP3 file.
## [br]Anything else (an exported OGG, a compressed WAV) gives an [code]unsupported_audio[/code]
## failure: pass the PCM your TTS produced to [method MienTalker.say_pcm] instead.

## Source file extensions the sidecar decodes itself.
const FILE_EXTENSIONS: PackedStringArray = ["wav", "ogg", "mp3", "flac"]
## Proto enum name of signed 16-bit little-endian PCM.
const ENCODING_S16LE := "PCM_ENCODING_S16LE"


## Base64 of raw bytes (proto3 JSON encodes [code]bytes[/code] fields as base64).
static func to_base64(bytes: PackedByteArray) -> String:
	return Marshalls.raw_to_base64(bytes)


## The [code]audio[/code] request field for [param stream]: [code]{"file": b64}[/code] or
## [code]{"pcm": {...}}[/code] in [member MienResult.data], or an [code]unsupported_audio[/code]
## failure.
static func audio_input(stream: AudioStream) -> MienResult:
	if stream == null:
		return MienResult.failure("unsupported_audio", "no audio stream given")
	var source_path := stream.resource_path
	if (
		not source_path.is_empty()
		and source_path.get_extension().to_lower() in FILE_EXTENSIONS
		and FileAccess.file_exists(source_path)
	):
		return MienResult.success(null, file_input(FileAccess.get_file_as_bytes(source_path)))
	if stream is AudioStreamMP3:
		var mp3: AudioStreamMP3 = stream
		return MienResult.success(null, file_input(mp3.data))
	var pcm := pcm_s16(stream)
	if not pcm.ok:
		return pcm
	return MienResult.success(
		null,
		{
			"pcm":
			pcm_input(pcm.data["pcm"], int(pcm.data["sample_rate_hz"]), int(pcm.data["channels"]))
		}
	)


## [code]{"file": <base64>}[/code] for a complete audio file.
static func file_input(file_bytes: PackedByteArray) -> Dictionary:
	return {"file": to_base64(file_bytes)}


## The PcmAudio message for signed 16-bit little-endian samples.
static func pcm_input(pcm: PackedByteArray, sample_rate_hz: int, channels: int) -> Dictionary:
	return {
		"data": to_base64(pcm),
		"sampleRateHz": sample_rate_hz,
		"encoding": ENCODING_S16LE,
		"channels": channels,
	}


## Signed 16-bit little-endian PCM of [param stream] in [member MienResult.data]
## ([code]pcm[/code], [code]sample_rate_hz[/code], [code]channels[/code]).
## Reads an uncompressed source WAV file when present, else an imported [AudioStreamWAV].
static func pcm_s16(stream: AudioStream) -> MienResult:
	if stream == null:
		return MienResult.failure("unsupported_audio", "no audio stream given")
	var source_path := stream.resource_path
	if source_path.get_extension().to_lower() == "wav" and FileAccess.file_exists(source_path):
		var parsed := parse_wav(FileAccess.get_file_as_bytes(source_path))
		if parsed.ok:
			return parsed
	if stream is AudioStreamWAV:
		var wav: AudioStreamWAV = stream
		var channels := 2 if wav.stereo else 1
		if wav.format == AudioStreamWAV.FORMAT_16_BITS:
			return _pcm_result(wav.data, wav.mix_rate, channels)
		if wav.format == AudioStreamWAV.FORMAT_8_BITS:
			return _pcm_result(_s8_to_s16(wav.data), wav.mix_rate, channels)
		return MienResult.failure(
			"unsupported_audio",
			"%s is compressed (IMA ADPCM/QOA); reimport it with Compress > Mode = PCM" % source_path
		)
	return MienResult.failure(
		"unsupported_audio", "%s: no raw PCM available for %s" % [source_path, stream.get_class()]
	)


## Parses a RIFF/WAVE file with 8- or 16-bit integer PCM into s16le samples.
static func parse_wav(file_bytes: PackedByteArray) -> MienResult:
	if file_bytes.size() < 12 or file_bytes.slice(0, 4).get_string_from_ascii() != "RIFF":
		return MienResult.failure("unsupported_audio", "not a RIFF/WAVE file")
	var offset := 12
	var channels := 0
	var sample_rate := 0
	var bits := 0
	var format_tag := 0
	while offset + 8 <= file_bytes.size():
		var chunk_id := file_bytes.slice(offset, offset + 4).get_string_from_ascii()
		var chunk_size := file_bytes.decode_u32(offset + 4)
		var body := offset + 8
		if chunk_id == "fmt ":
			format_tag = file_bytes.decode_u16(body)
			channels = file_bytes.decode_u16(body + 2)
			sample_rate = file_bytes.decode_u32(body + 4)
			bits = file_bytes.decode_u16(body + 14)
		elif chunk_id == "data":
			if format_tag != 1 or channels == 0 or not bits in [8, 16]:
				break
			var samples := file_bytes.slice(body, mini(body + chunk_size, file_bytes.size()))
			if bits == 8:
				samples = _u8_to_s16(samples)
			return _pcm_result(samples, sample_rate, channels)
		offset = body + chunk_size + (chunk_size & 1)
	return MienResult.failure(
		"unsupported_audio",
		"WAV is not 8/16-bit integer PCM (format %d, %d bits)" % [format_tag, bits]
	)


## Builds a playable [AudioStreamWAV] from s16le [param pcm].
static func wav_from_pcm(
	pcm: PackedByteArray, sample_rate_hz: int, channels: int
) -> AudioStreamWAV:
	var wav := AudioStreamWAV.new()
	wav.format = AudioStreamWAV.FORMAT_16_BITS
	wav.mix_rate = sample_rate_hz
	wav.stereo = channels == 2
	wav.data = pcm
	return wav


## Splits s16le [param pcm] into chunks of [param chunk_ms] milliseconds (whole sample frames).
static func chunk_pcm(
	pcm: PackedByteArray, sample_rate_hz: int, channels: int, chunk_ms: int
) -> Array[PackedByteArray]:
	var frame_bytes := 2 * maxi(channels, 1)
	var chunk_bytes := maxi(int(sample_rate_hz * chunk_ms / 1000.0) * frame_bytes, frame_bytes)
	var chunks: Array[PackedByteArray] = []
	var offset := 0
	while offset < pcm.size():
		chunks.append(pcm.slice(offset, mini(offset + chunk_bytes, pcm.size())))
		offset += chunk_bytes
	return chunks


static func _pcm_result(pcm: PackedByteArray, sample_rate_hz: int, channels: int) -> MienResult:
	return MienResult.success(
		null, {"pcm": pcm, "sample_rate_hz": sample_rate_hz, "channels": channels}
	)


static func _s8_to_s16(samples: PackedByteArray) -> PackedByteArray:
	var out := PackedByteArray()
	out.resize(samples.size() * 2)
	for index in samples.size():
		out.encode_s16(index * 2, samples.decode_s8(index) * 256)
	return out


static func _u8_to_s16(samples: PackedByteArray) -> PackedByteArray:
	var out := PackedByteArray()
	out.resize(samples.size() * 2)
	for index in samples.size():
		out.encode_s16(index * 2, (samples[index] - 128) * 256)
	return out
