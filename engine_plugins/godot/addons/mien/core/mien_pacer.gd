@tool
class_name MienPacer
extends RefCounted
## Streaming input, the GDScript twin of the plugin core's FChunkPacer (MienCorePacing.h): PCM
## pushed as a TTS (or a decoder) produces it is cut into fixed chunks and handed out at
## production pace, never more than [member lead_s] of audio ahead of the stream's real-time
## clock. A whole clip is one [method push] followed by [method finish]. Also the retry schedule,
## the audio clock and the command-line splitter. Checked against tests/cases/*.json (the same
## cases as the C++ core) by tests/run_core_cases.gd.

## Milliseconds of audio per chunk (same as MienCore::DefaultChunkMs).
const DEFAULT_CHUNK_MS := 100
## Seconds of audio that may be sent ahead of real time (MienCore::DefaultLeadS).
const DEFAULT_LEAD_S := 0.5
## Seconds of frames a streamed line waits for before its audio starts
## (MienCore::DefaultStartBufferS).
const DEFAULT_START_BUFFER_S := 0.1
## The same for PCM pushed by a TTS (MienCore::DefaultPushStartBufferS): a producer at real
## time cannot run ahead, so it also covers the look-ahead, a chunk and the end-of-stream flush.
const DEFAULT_PUSH_START_BUFFER_S := 0.4
## Error codes worth retrying: the sidecar not reachable, busy or restarting.
const RETRYABLE_CODES: PackedStringArray = [
	"transport_error", "timeout", "unavailable", "resource_exhausted", "deadline_exceeded"
]

## Bytes of one chunk (whole sample frames, at least one).
var chunk_bytes: int = 2
## Seconds of audio that may be sent ahead of the stream's clock.
var lead_s: float = DEFAULT_LEAD_S

var _bytes_per_second: float = 32000.0
var _pending := PackedByteArray()
var _pushed: int = 0
var _sent: int = 0
var _next_index: int = 0
var _started := false
var _start_s: float = 0.0
var _finished := false
var _end_sent := false


func _init(
	sample_rate_hz: int = 16000,
	channels: int = 1,
	bytes_per_sample: int = 2,
	chunk_ms: int = DEFAULT_CHUNK_MS,
	lead: float = DEFAULT_LEAD_S
) -> void:
	var rate := sample_rate_hz if sample_rate_hz > 0 else 16000
	var frame_bytes := maxi(bytes_per_sample, 1) * maxi(channels, 1)
	var frames_per_chunk := floori(rate * (chunk_ms if chunk_ms > 0 else DEFAULT_CHUNK_MS) / 1000.0)
	chunk_bytes = frames_per_chunk * frame_bytes if frames_per_chunk > 0 else frame_bytes
	_bytes_per_second = float(rate * frame_bytes)
	lead_s = lead


## Appends produced PCM (any size).
func push(data: PackedByteArray) -> void:
	if _finished or data.is_empty():
		return
	_pending.append_array(data)
	_pushed += data.size()


## No more audio: the last partial chunk becomes sendable, then the end.
func finish() -> void:
	_finished = true


func is_finished() -> bool:
	return _finished


## True once [method poll] has reported the end.
func is_done() -> bool:
	return _end_sent


func bytes_pushed() -> int:
	return _pushed


func bytes_sent() -> int:
	return _sent


func bytes_per_second() -> float:
	return _bytes_per_second


## When the next chunk may go (clock of [method poll]); INF while it waits for data or is done.
func next_due_s() -> float:
	if _end_sent:
		return INF
	if not _started:
		return 0.0
	if _pending.size() >= chunk_bytes or (_finished and not _pending.is_empty()):
		return _start_s + _sent / _bytes_per_second - lead_s
	return _start_s if _finished else INF


## The chunks sendable at [param now_s] (the first call starts the clock): an Array of
## {"index", "offset", "data", "audio_start_s", "audio_end_s"}, and {"end": true} last, once,
## after [method finish] when every chunk has been handed out.
func poll(now_s: float) -> Array[Dictionary]:
	var out: Array[Dictionary] = []
	if _end_sent:
		return out
	if not _started:
		_started = true
		_start_s = now_s
	var consumed := 0
	while true:
		var available := _pending.size() - consumed
		var take := 0
		if available >= chunk_bytes:
			take = chunk_bytes
		elif _finished and available > 0:
			take = available
		if take == 0:
			break
		var audio_start_s := _sent / _bytes_per_second
		if now_s + 1e-9 < _start_s + audio_start_s - lead_s:
			break
		var chunk := {
			"index": _next_index,
			"offset": _sent,
			"data": _pending.slice(consumed, consumed + take),
			"audio_start_s": audio_start_s,
		}
		_next_index += 1
		_sent += take
		chunk["audio_end_s"] = _sent / _bytes_per_second
		consumed += take
		out.append(chunk)
	if consumed > 0:
		_pending = _pending.slice(consumed)
	if _finished and _pending.is_empty():
		_end_sent = true
		out.append({"end": true})
	return out


## Delay before attempt [param attempt] + 1 after [param attempt] failed (attempt >= 1):
## base * factor^(attempt - 1), capped, times a deterministic jitter in [1 - j, 1 + j).
## [param policy]: base_delay_s, factor, max_delay_s, jitter (defaults 0.5, 2, 8, 0.2).
static func retry_delay_s(policy: Dictionary, attempt: int, seed_value: int) -> float:
	var step := maxi(attempt - 1, 0)
	var delay: float = (
		float(policy.get("base_delay_s", 0.5)) * pow(float(policy.get("factor", 2.0)), step)
	)
	delay = minf(delay, float(policy.get("max_delay_s", 8.0)))
	var jitter := float(policy.get("jitter", 0.2))
	var mixed := ((seed_value & 0x7FFFFFFF) * 2654435761 + attempt * 40503) & 0xFFFFFFFF
	var fraction := float(mixed) / 4294967296.0
	return delay * (1.0 - jitter + 2.0 * jitter * fraction)


## Whether to try again after [param attempts_made] attempts ended with [param code].
static func should_retry(policy: Dictionary, code: String, attempts_made: int) -> bool:
	return code in RETRYABLE_CODES and attempts_made < int(policy.get("max_attempts", 4))


## Seconds heard: frames the audio device consumed minus the output latency, never negative.
static func heard_time_s(
	frames_consumed: int, sample_rate_hz: int, output_latency_s: float
) -> float:
	if sample_rate_hz <= 0 or frames_consumed <= 0:
		return 0.0
	return maxf(float(frames_consumed) / sample_rate_hz - output_latency_s, 0.0)


## Whether a streamed line's audio may start: frames for [param start_buffer_s] are there, or
## the stream ended.
static func should_start_playback(
	frames_received: int, fps: float, stream_ended: bool, start_buffer_s: float
) -> bool:
	if stream_ended:
		return true
	return fps > 0.0 and frames_received > 0 and frames_received / fps >= start_buffer_s


## Splits a command line: whitespace separates, "double" and 'single' quotes group (backslash
## escapes " and \ inside double quotes). Returns {"args": PackedStringArray} or {"problem": ...}.
static func split_command_line(command: String) -> Dictionary:
	var args := PackedStringArray()
	var current := ""
	var in_token := false
	var quote := ""
	var index := 0
	while index < command.length():
		var c := command[index]
		if quote == "'":
			if c == "'":
				quote = ""
			else:
				current += c
		elif quote == '"':
			if c == '"':
				quote = ""
			elif c == "\\" and index + 1 < command.length() and command[index + 1] in ['"', "\\"]:
				index += 1
				current += command[index]
			else:
				current += c
		elif c in [" ", "\t", "\n", "\r"]:
			if in_token:
				args.append(current)
				current = ""
				in_token = false
		else:
			in_token = true
			if c == '"' or c == "'":
				quote = c
			else:
				current += c
		index += 1
	if not quote.is_empty():
		var kind := "double" if quote == '"' else "single"
		return {"problem": "unterminated %s quote in the command" % kind}
	if in_token:
		args.append(current)
	if args.is_empty():
		return {"problem": "empty command"}
	return {"args": args}
