class_name MienTalker
extends Node
## Speaks dialogue lines with Mien facial animation: blend shapes on one or more
## [MeshInstance3D]s, eye and head bones through a [MienBoneDriver], in sync with the audio.
##
## Three ways to speak a line, all returning a [MienResult] (await it, or use the signals):
## [br]- [method say]: an [AudioStream] (any import setting, editor or exported game; see
## [MienAudio]). With [member use_streaming] off the whole line is sent to AnimateLine (best
## lip-sync with a transcript); on, it is streamed (the special case of the streaming API below).
## [br]- [method begin_stream] / [method push_pcm] / [method end_stream]: PCM as a TTS produces
## it. Chunks go to the sidecar at production pace; the audio is played through an
## [AudioStreamGenerator] once the first frames are in, and the face follows what is heard.
## [br]- [method say_pcm]: a whole PCM buffer (a stream that is pushed at once).
## [codeblock]
## @onready var talker: MienTalker = $MienTalker
##
## func greet() -> void:
##     var result := await talker.say(preload("res://voice/guard_hello.wav"), "Halt!")
##     if not result.ok:
##         push_warning("no face animation: %s" % result)
## [/codeblock]
## Between lines it loops an idle track (blinks, gaze, mood). Calls to the sidecar are retried
## with back-off; when a line still cannot be animated its audio plays with the idle face.
## Channels are matched to blend shapes by name after the optional [member channel_map]
## (rename, gain, offset, clamp); rotation channels ([code]*_deg[/code]) are read by name.
## With [member animation_mixer_path] set, values are applied right after that
## [AnimationPlayer] / [AnimationTree] has applied its own ([signal AnimationMixer.mixer_applied]),
## weighted by [member influence], so Mien layers over the animation system.

## Emitted when the face starts following a line (its audio starts playing).
signal line_started(track: TrackScript)
## Emitted when a line's audio has finished and the face returns to idle.
signal line_finished
## Emitted when a line could not be animated (after retries); [param result] says why.
signal line_failed(result: ResultScript)

## What the talker is doing.
enum State { IDLE, REQUESTING, BUFFERING, SPEAKING }

const Protocol := preload("res://addons/mien/core/mien_protocol.gd")
const Pacer := preload("res://addons/mien/core/mien_pacer.gd")
const Rotation := preload("res://addons/mien/core/mien_rotation.gd")
const ChannelMapScript := preload("res://addons/mien/core/mien_channel_map.gd")
const ResultScript := preload("res://addons/mien/mien_result.gd")
const TrackScript := preload("res://addons/mien/mien_track.gd")
const ClientScript := preload("res://addons/mien/mien_client.gd")
const StreamScript := preload("res://addons/mien/mien_stream.gd")
const AudioScript := preload("res://addons/mien/mien_audio.gd")
const ConfigScript := preload("res://addons/mien/mien_config.gd")

## Seconds of audio kept in the generator's buffer for pushed PCM.
const GENERATOR_BUFFER_S := 0.5

## Base URL of the Mien gateway ("" = [method MienConfig.resolve_server_url]). The token is
## never a property: see [MienConfig].
@export var server_url: String = ""
## The face mesh whose blend shapes are driven.
@export_node_path("MeshInstance3D") var mesh_path: NodePath
## More meshes with the same blend shapes (teeth, tongue, eyelashes, beard).
@export var extra_mesh_paths: Array[NodePath] = []
## The player of the line's audio; empty = no audio (the face follows a clock).
@export_node_path("AudioStreamPlayer", "AudioStreamPlayer3D") var audio_player_path: NodePath
## Per-character rename / gain / offset / clamp of the sidecar's channels (optional).
@export var channel_map: ChannelMapScript = null
## Rig profile of the sidecar (see Describe), e.g. arkit52, vrm, oculus15 or a custom one.
@export var rig: String = "arkit52"
## Frames per second requested from the sidecar.
@export_range(1.0, 240.0) var fps: float = 60.0
## The speaking NPC; with no emotion given, lines and idle use its state (emotion auto).
@export var npc_id: String = ""
## Stream [method say] lines over WebSocket (neural mode, starts sooner, no transcript).
@export var use_streaming: bool = false
## Seed of blinks, gaze and micro-motion (-1 = unset; idle tracks then use a random seed).
@export var line_seed: int = -1

@export_group("Animation system")
## An AnimationPlayer or AnimationTree: Mien applies its values after that mixer's, each frame.
@export_node_path("AnimationMixer") var animation_mixer_path: NodePath
## Weight of Mien's values over what the mixer wrote (0 = the mixer's, 1 = Mien's).
@export_range(0.0, 1.0) var influence: float = 1.0

@export_group("Layers")
## Scale of the emotional expression, 0..2.
@export_range(0.0, 2.0) var expression_scale: float = 1.0
## Scale of blinks, 0..2 (0 = none).
@export_range(0.0, 2.0) var blink_scale: float = 1.0
## Scale of gaze movements, 0..2 (0 = eyes fixed ahead).
@export_range(0.0, 2.0) var gaze_scale: float = 1.0

@export_group("Idle")
## Loop an idle track between lines.
@export var idle_enabled: bool = true
## Length of each requested idle track in seconds.
@export_range(1.0, 60.0) var idle_duration_s: float = 8.0
## Emotion of idle tracks (same forms as [method say]; {} = auto with npc_id, else neutral).
@export var idle_emotion: Dictionary = {}

@export_group("Timing")
## Seconds to cross-fade between idle and a line.
@export_range(0.0, 1.0) var blend_time_s: float = 0.15
## Seconds before a request fails with timeout.
@export var request_timeout_s: float = 30.0
## Seconds of frames a streamed [method say] line waits for before its audio starts.
@export_range(0.0, 1.0) var start_buffer_s: float = Pacer.DEFAULT_START_BUFFER_S
## The same for PCM pushed with [method push_pcm] (covers a real-time TTS's tail).
@export_range(0.0, 2.0) var push_start_buffer_s: float = Pacer.DEFAULT_PUSH_START_BUFFER_S
## Milliseconds of audio per streamed chunk.
@export_range(20, 1000) var chunk_ms: int = Pacer.DEFAULT_CHUNK_MS
## Seconds of audio streamed ahead of real time (at least the model's look-ahead).
@export_range(0.1, 5.0) var lead_s: float = Pacer.DEFAULT_LEAD_S
## Play a line's audio (with the idle face) when it cannot be animated.
@export var play_audio_on_failure: bool = true

## Current state.
var state: State = State.IDLE
## The line being spoken (null when idle).
var current_track: TrackScript = null
## The bearer token for this talker ("" = [method MienConfig.resolve_token]); not saved.
var token: String = ""

var _client: ClientScript = null
var _line_id: int = 0
var _line_audio: AudioStream = null
var _line_start_usec: int = 0
var _line_emotion: Dictionary = {}
# Streaming state of the current line.
var _stream: StreamScript = null
var _stream_id: int = 0
var _stream_attempt: int = 0
var _stream_rate: int = 16000
var _stream_channels: int = 1
var _stream_encoding: String = Protocol.ENCODING_S16LE
var _stream_pcm := PackedByteArray()
var _stream_input_ended := false
var _stream_ended := false
var _decoder: AudioScript.Decoder = null
# Generator playback of pushed PCM.
var _generator: AudioStreamGeneratorPlayback = null
var _generator_capacity: int = 0
var _generator_fed_bytes: int = 0
var _generator_frames: int = 0
var _generator_drained_usec: int = -1
# Idle.
var _idle_track: TrackScript = null
var _idle_start_usec: int = 0
var _idle_requesting := false
# Application.
var _source_names := PackedStringArray()
var _binding: Dictionary = {}
var _names := PackedStringArray()
var _values := PackedFloat32Array()
var _index: Dictionary = {}
var _shape_indices: Array[PackedInt32Array] = []
var _rotation_groups: Array[Dictionary] = []
var _blend_from: Dictionary = {}
var _blend_start_usec: int = 0
var _meshes: Array[MeshInstance3D] = []
var _mixer: AnimationMixer = null

@onready var _player: Node = get_node_or_null(audio_player_path)


func _ready() -> void:
	_client = ClientScript.new()
	_client.name = "MienClient"
	add_child(_client)
	_collect_meshes()
	if _player is AudioStreamPlayer:
		(_player as AudioStreamPlayer).finished.connect(_on_player_finished)
	elif _player is AudioStreamPlayer3D:
		(_player as AudioStreamPlayer3D).finished.connect(_on_player_finished)
	_mixer = get_node_or_null(animation_mixer_path) as AnimationMixer
	if _mixer != null:
		_mixer.mixer_applied.connect(_on_mixer_applied)
	if idle_enabled:
		_refresh_idle()


func _exit_tree() -> void:
	_close_stream()


func _process(_delta: float) -> void:
	_update_stream()
	if not _mixer_applies_face():
		_update_face()


## Speaks [param stream] with [param text] (its transcript; "" = none) and [param emotion]:
## [code]{}[/code] (auto with [member npc_id], else neutral), [code]{"category": "happy",
## "intensity": 0.8}[/code], [code]{"vad": Vector3(v, a, d)}[/code], [code]{"blend": {...}}[/code],
## [code]{"keyframes": [{"time_s": 0.0, "category": "sad"}, ...]}[/code] or
## [code]{"auto": true}[/code]. A new line replaces the current one.
func say(stream: AudioStream, text: String = "", emotion: Dictionary = {}) -> ResultScript:
	if use_streaming:
		return _say_streamed(stream, emotion)
	# The new line replaces the current one even when it fails at once (the old line's reply
	# must not start it afterwards).
	_begin_line(stream, emotion)
	var audio := AudioScript.audio_input(stream)
	if not audio.ok:
		return _fail_line(audio, stream)
	var line_id := _line_id
	_sync_client()
	var body := Protocol.animate_line_body(audio.data, text, emotion, _settings(line_seed))
	var result := await _client.animate_line(body)
	if line_id != _line_id:
		return ResultScript.failure("cancelled", "a newer line replaced this one")
	if not result.ok:
		return _fail_line(result, stream)
	current_track = result.track
	_start_line()
	return result


## Speaks raw signed 16-bit little-endian [param pcm] (e.g. a whole TTS buffer): streamed,
## played through an [AudioStreamGenerator]. [param text] is ignored when streaming.
func say_pcm(
	pcm: PackedByteArray,
	sample_rate_hz: int,
	channels: int = 1,
	_text: String = "",
	emotion: Dictionary = {}
) -> ResultScript:
	var opened := begin_stream(sample_rate_hz, channels, emotion)
	if not opened.ok:
		return opened
	push_pcm(pcm)
	end_stream()
	return opened


## Starts a line whose audio arrives while it plays (a TTS): signed 16-bit little-endian PCM
## at [param sample_rate_hz] with [param channels] interleaved. Then call [method push_pcm]
## with each piece as it is produced and [method end_stream] after the last. The audio starts
## once frames for [member start_buffer_s] are in; the face follows what is heard.
func begin_stream(sample_rate_hz: int, channels: int = 1, emotion: Dictionary = {}) -> ResultScript:
	if sample_rate_hz < 4000 or channels < 1:
		_begin_line(null, emotion)  # stops the current line; nothing of it is replayed
		return _fail_line(
			ResultScript.failure(
				"unsupported_audio", "begin_stream needs a sample rate >= 4000 Hz and >= 1 channel"
			),
			null
		)
	_begin_line(null, emotion)
	_stream_rate = sample_rate_hz
	_stream_channels = channels
	_stream_encoding = Protocol.ENCODING_S16LE
	return _open_stream()


## Adds produced PCM to the line started by [method begin_stream].
func push_pcm(pcm: PackedByteArray) -> void:
	if _stream_input_ended or _decoder != null or state == State.IDLE:
		return
	_stream_pcm.append_array(pcm)
	if _stream != null:
		_stream.push(pcm)


## Ends the audio of the line started by [method begin_stream].
func end_stream() -> void:
	if _stream_input_ended or state == State.IDLE:
		return
	_stream_input_ended = true
	if _stream != null:
		_stream.finish()


## Requests the track of a line without playing it (to prefetch); play it later with
## [method play_track].
func request_track(
	stream: AudioStream, text: String = "", emotion: Dictionary = {}
) -> ResultScript:
	var audio := AudioScript.audio_input(stream)
	if not audio.ok:
		return audio
	_sync_client()
	var body := Protocol.animate_line_body(audio.data, text, emotion, _settings(line_seed))
	return await _client.animate_line(body)


## Plays [param stream] and applies [param track] in sync with it (replacing any current line).
## Works offline: baked tracks need no sidecar.
func play_track(stream: AudioStream, track: TrackScript) -> void:
	_begin_line(stream, {})
	current_track = track
	_start_line()


## Stops the current line (audio and face) and returns to idle without [signal line_finished].
func stop() -> void:
	_stop_line()


## True while a line is being requested or spoken.
func is_speaking() -> bool:
	return state != State.IDLE


## The value last applied to channel [param channel_name] (after the channel map; 0 when unknown).
func get_channel_value(channel_name: String) -> float:
	var index: int = _index.get(channel_name, -1)
	return _values[index] if index >= 0 else 0.0


## The channel names being applied (after the channel map).
func get_channel_names() -> PackedStringArray:
	return _names


## Yaw, pitch and roll in degrees of a rotation group ("eyeLeft", "eyeRight", "head", ...) as
## last applied; Vector3.ZERO when the track has no such channels.
func get_rotation_degrees(group: String) -> Vector3:
	for entry in _rotation_groups:
		if entry["group"] == group:
			return Vector3(
				_axis_value(entry["yaw"]), _axis_value(entry["pitch"]), _axis_value(entry["roll"])
			)
	return Vector3.ZERO


## The rotation groups of the current channels (see [method MienRotation.find_groups]).
func get_rotation_groups() -> PackedStringArray:
	var groups := PackedStringArray()
	for entry in _rotation_groups:
		groups.append(entry["group"])
	return groups


## Describe: the sidecar's rigs (with channel names), emotions and limits.
func describe() -> ResultScript:
	_sync_client()
	return await _client.describe(true)


# --- lines ---------------------------------------------------------------------------------


func _begin_line(stream: AudioStream, emotion: Dictionary) -> void:
	_stop_line()
	_line_id += 1
	_line_audio = stream
	_line_emotion = emotion
	_stream_attempt = 0
	_stream_pcm = PackedByteArray()
	_stream_input_ended = false
	_stream_ended = false
	state = State.REQUESTING


func _say_streamed(stream: AudioStream, emotion: Dictionary) -> ResultScript:
	_begin_line(stream, emotion)
	var decoder := AudioScript.Decoder.new(stream)
	if not decoder.problem.is_empty():
		return _fail_line(ResultScript.failure("unsupported_audio", decoder.problem), stream)
	_decoder = decoder
	_stream_rate = decoder.sample_rate_hz
	_stream_channels = decoder.channels
	_stream_encoding = decoder.encoding
	return _open_stream()


func _open_stream() -> ResultScript:
	_sync_client()
	_stream_attempt += 1
	_stream_id += 1
	var bytes_per_sample := 4 if _stream_encoding == Protocol.ENCODING_F32LE else 2
	var pacer := Pacer.new(_stream_rate, _stream_channels, bytes_per_sample, chunk_ms, lead_s)
	var header := Protocol.stream_header(
		_stream_rate, _stream_channels, _line_emotion, _settings(line_seed), _stream_encoding
	)
	var session := StreamScript.new()
	session.emotion = _line_emotion
	# Signals carry the stream id, never the session itself (a bound session would keep itself
	# alive through its own connections).
	session.header_received.connect(_on_stream_header.bind(_stream_id))
	session.frames_received.connect(_on_stream_frames.bind(_stream_id))
	session.ended.connect(_on_stream_ended.bind(_stream_id))
	session.closed.connect(_on_stream_closed.bind(_stream_id))
	var error := session.open(_client.server_url, _client.token, header, pacer)
	if error != OK:
		return _fail_line(
			ResultScript.failure("transport_error", "cannot open stream: %s" % error_string(error)),
			_line_audio
		)
	_stream = session
	if _decoder == null:
		session.push(_stream_pcm)  # a retried stream re-sends what was pushed so far
		if _stream_input_ended:
			session.finish()
	return ResultScript.success()


func _update_stream() -> void:
	if _stream != null:
		if _decoder != null and not _stream.pacer.is_finished():
			# Decode only what the pacer may send soon (a long line is decoded as it is sent).
			var wanted := _stream.pacer.bytes_sent() + 2 * _stream.pacer.chunk_bytes
			var frame_bytes := _decoder.channels * _decoder.bytes_per_sample
			while not _decoder.is_done() and _stream.pacer.bytes_pushed() < wanted:
				_stream.push(_decoder.read(_stream.pacer.chunk_bytes / frame_bytes))
			if _decoder.is_done():
				_stream.finish()
		_stream.poll(Time.get_ticks_usec() / 1e6)
	if state == State.BUFFERING and current_track != null:
		var buffer_s := start_buffer_s if _line_audio != null else push_start_buffer_s
		if Pacer.should_start_playback(
			current_track.frame_count, current_track.fps, _stream_ended, buffer_s
		):
			_start_line()
	_feed_generator()


func _start_line() -> void:
	_begin_blend()
	state = State.SPEAKING
	_line_start_usec = Time.get_ticks_usec()
	if _line_audio != null:
		_play(_line_audio)
	elif _stream != null or not _stream_pcm.is_empty():
		_start_generator()
	line_started.emit(current_track)


func _play(stream: AudioStream) -> void:
	if _player is AudioStreamPlayer:
		(_player as AudioStreamPlayer).stream = stream
		(_player as AudioStreamPlayer).play()
	elif _player is AudioStreamPlayer3D:
		(_player as AudioStreamPlayer3D).stream = stream
		(_player as AudioStreamPlayer3D).play()


func _start_generator() -> void:
	if not (_player is AudioStreamPlayer or _player is AudioStreamPlayer3D):
		return
	var generator := AudioStreamGenerator.new()
	generator.mix_rate = _stream_rate
	generator.buffer_length = GENERATOR_BUFFER_S
	_play(generator)
	_generator = _player.call(&"get_stream_playback") as AudioStreamGeneratorPlayback
	_generator_capacity = _generator.get_frames_available() if _generator != null else 0
	_generator_fed_bytes = 0
	_generator_frames = 0
	_generator_drained_usec = -1
	_feed_generator()


func _feed_generator() -> void:
	if _generator == null:
		return
	var frame_bytes := 2 * _stream_channels
	var pending := (_stream_pcm.size() - _generator_fed_bytes) / frame_bytes
	var room := _generator.get_frames_available()
	var count := mini(pending, room)
	if count > 0:
		var start := _generator_fed_bytes
		var frames := AudioScript.s16_to_frames(
			_stream_pcm.slice(start, start + count * frame_bytes), _stream_channels
		)
		_generator.push_buffer(frames)
		_generator_fed_bytes += count * frame_bytes
		_generator_frames += count
	var drained := _generator.get_frames_available() >= _generator_capacity
	if not (_stream_input_ended and _stream_pcm.size() - _generator_fed_bytes < frame_bytes):
		_generator_drained_usec = -1
	elif drained:
		# Everything was pushed and consumed; the last samples are still in the output for the
		# output latency. (Comparing the heard time, which subtracts that latency, with the total
		# never succeeds: the line would never end.) Then the generator would play silence
		# forever, so the player is stopped.
		var now := Time.get_ticks_usec()
		if _generator_drained_usec < 0:
			_generator_drained_usec = now
		if (now - _generator_drained_usec) / 1e6 >= ConfigScript.output_latency_s():
			_stop_player()
			_end_line()


func _stop_line() -> void:
	_line_id += 1
	_close_stream()
	if state == State.SPEAKING:
		_begin_blend()
	current_track = null
	state = State.IDLE
	_generator = null
	_decoder = null
	_stop_player()


func _stop_player() -> void:
	if _player is AudioStreamPlayer:
		(_player as AudioStreamPlayer).stop()
	elif _player is AudioStreamPlayer3D:
		(_player as AudioStreamPlayer3D).stop()


func _end_line() -> void:
	if state != State.SPEAKING:
		return
	_begin_blend()
	_close_stream()
	current_track = null
	_generator = null
	_decoder = null
	state = State.IDLE
	line_finished.emit()
	if idle_enabled:
		_refresh_idle()


## Fails the line. With [member play_audio_on_failure] its audio still plays with the idle
## face, and [signal line_finished] follows when it ends.
func _fail_line(result: ResultScript, stream: AudioStream) -> ResultScript:
	var audio := stream if stream != null else _line_audio
	var pushed_pcm := audio == null and _decoder == null and not _stream_pcm.is_empty()
	_close_stream()
	_decoder = null
	if state == State.SPEAKING:
		_begin_blend()
	current_track = null
	push_warning("Mien: line failed: %s" % result)
	line_failed.emit(result)
	var has_player := _player is AudioStreamPlayer or _player is AudioStreamPlayer3D
	if play_audio_on_failure and has_player and (audio != null or pushed_pcm):
		state = State.SPEAKING
		_line_start_usec = Time.get_ticks_usec()
		if audio != null:
			_line_audio = audio
			_play(audio)
		elif _generator == null:
			_start_generator()
	else:
		state = State.IDLE
		_generator = null
	return result


func _close_stream() -> void:
	if _stream != null:
		var session := _stream
		_stream = null
		session.close()


# --- face ----------------------------------------------------------------------------------


## Seconds of the line heard so far: the player's position plus the time since the last mix,
## minus the output latency (read at most every 2 s for the whole process, see MienConfig);
## for pushed PCM, the frames the generator has consumed.
func _playback_time() -> float:
	if _generator != null:
		var queued := _generator_capacity - _generator.get_frames_available()
		return Pacer.heard_time_s(
			_generator_frames - maxi(queued, 0), _stream_rate, ConfigScript.output_latency_s()
		)
	var position := -1.0
	if _player is AudioStreamPlayer and (_player as AudioStreamPlayer).playing:
		position = (_player as AudioStreamPlayer).get_playback_position()
	elif _player is AudioStreamPlayer3D and (_player as AudioStreamPlayer3D).playing:
		position = (_player as AudioStreamPlayer3D).get_playback_position()
	if position < 0.0:
		return (Time.get_ticks_usec() - _line_start_usec) / 1e6
	return maxf(
		position + AudioServer.get_time_since_last_mix() - ConfigScript.output_latency_s(), 0.0
	)


func _update_face() -> void:
	if state == State.SPEAKING and current_track != null and current_track.frame_count > 0:
		var time_s := _playback_time()
		_apply(current_track.channel_names, current_track.sample(time_s))
		var has_audio := _player is AudioStreamPlayer or _player is AudioStreamPlayer3D
		if not has_audio and current_track.complete and time_s >= current_track.duration():
			_end_line()
	elif _idle_track != null and _idle_track.frame_count > 0:
		var elapsed := (Time.get_ticks_usec() - _idle_start_usec) / 1e6
		_apply(_idle_track.channel_names, _idle_track.sample(fmod(elapsed, _idle_track.duration())))


func _apply(source_names: PackedStringArray, frame: PackedFloat32Array) -> void:
	if frame.is_empty():
		return
	if source_names != _source_names:
		_bind_channels(source_names)
	var mapped := ChannelMapScript.apply(_binding, frame)
	var weight := 1.0
	if blend_time_s > 0.0:
		weight = clampf((Time.get_ticks_usec() - _blend_start_usec) / 1e6 / blend_time_s, 0.0, 1.0)
	for index in mapped.size():
		var value := mapped[index]
		if weight < 1.0:
			value = lerpf(float(_blend_from.get(_names[index], 0.0)), value, weight)
		_values[index] = value
	for mesh_index in _meshes.size():
		var mesh := _meshes[mesh_index]
		var shapes := _shape_indices[mesh_index]
		for index in shapes.size():
			var shape := shapes[index]
			if shape < 0:
				continue
			var value := _values[index]
			if influence < 1.0:
				value = lerpf(mesh.get_blend_shape_value(shape), value, influence)
			mesh.set_blend_shape_value(shape, value)


func _bind_channels(source_names: PackedStringArray) -> void:
	_source_names = source_names
	var map: ChannelMapScript = channel_map if channel_map != null else ChannelMapScript.new()
	_binding = map.bind(source_names)
	if not _binding["missing"].is_empty():
		push_warning("Mien: channel map sources not in the track: %s" % [_binding["missing"]])
	var old_values := {}
	for index in _names.size():
		old_values[_names[index]] = _values[index]
	_names = _binding["names"]
	_values.resize(_names.size())
	_index.clear()
	for index in _names.size():
		_index[_names[index]] = index
		_values[index] = float(old_values.get(_names[index], 0.0))
	_rotation_groups = Rotation.find_groups(_names)
	_shape_indices.clear()
	for mesh in _meshes:
		var shapes := PackedInt32Array()
		shapes.resize(_names.size())
		for index in _names.size():
			var channel_name := _names[index]
			shapes[index] = (
				-1
				if channel_name.ends_with(TrackScript.DEGREE_SUFFIX)
				else mesh.find_blend_shape_by_name(StringName(channel_name))
			)
		_shape_indices.append(shapes)


func _axis_value(index: int) -> float:
	return _values[index] if index >= 0 and index < _values.size() else 0.0


func _collect_meshes() -> void:
	_meshes.clear()
	for path in [mesh_path] + extra_mesh_paths:
		var mesh := get_node_or_null(path) as MeshInstance3D
		if mesh != null:
			_meshes.append(mesh)
	_source_names = PackedStringArray()


func _begin_blend() -> void:
	_blend_from.clear()
	for index in _names.size():
		_blend_from[_names[index]] = _values[index]
	_blend_start_usec = Time.get_ticks_usec()


func _refresh_idle() -> void:
	if _idle_requesting or not is_inside_tree():
		return
	_idle_requesting = true
	_sync_client()
	var idle_seed := line_seed if line_seed >= 0 else randi() & 0x7FFFFFFF
	var body := Protocol.idle_body(idle_duration_s, idle_emotion, _settings(idle_seed))
	var result := await _client.animate_line(body)
	_idle_requesting = false
	if not result.ok:
		push_warning("Mien: idle track failed: %s" % result)
		return
	if state == State.IDLE:
		_begin_blend()
	_idle_track = result.track
	_idle_start_usec = Time.get_ticks_usec()


func _sync_client() -> void:
	_client.server_url = (
		server_url if not server_url.is_empty() else ConfigScript.resolve_server_url()
	)
	_client.token = token if not token.is_empty() else ConfigScript.resolve_token()
	_client.timeout_s = request_timeout_s


func _settings(seed_value: int) -> Dictionary:
	return {
		"fps": fps,
		"rig": rig,
		"npc_id": npc_id,
		"seed": seed_value,
		"expression_scale": expression_scale,
		"blink_scale": blink_scale,
		"gaze_scale": gaze_scale,
	}


# --- callbacks -----------------------------------------------------------------------------


func _on_mixer_applied() -> void:
	_update_face()


## True when the mixer applies this frame (then the face follows its mixer_applied signal). A
## stopped AnimationPlayer, or an inactive mixer, does not process at all and emits nothing: the
## face is then applied from _process, or it would freeze.
func _mixer_applies_face() -> bool:
	if _mixer == null or not _mixer.active:
		return false
	if _mixer is AnimationPlayer:
		return (_mixer as AnimationPlayer).is_playing()
	return true


func _on_player_finished() -> void:
	if state == State.SPEAKING and _generator == null:
		_end_line()


func _on_stream_header(
	names: PackedStringArray, header_fps: float, _lookahead_ms: float, stream_id: int
) -> void:
	if stream_id == _stream_id:
		current_track = TrackScript.from_stream_header(names, header_fps)


func _on_stream_frames(
	first_frame: int, batch_count: int, batch_values: PackedFloat32Array, stream_id: int
) -> void:
	if stream_id != _stream_id or current_track == null:
		return
	current_track.append_frames(first_frame, batch_count, batch_values)
	if state == State.REQUESTING:
		state = State.BUFFERING


func _on_stream_ended(_frame_count: int, _audio_duration_s: float, stream_id: int) -> void:
	if stream_id == _stream_id and current_track != null:
		current_track.complete = true
		_stream_ended = true
		if state == State.REQUESTING:
			state = State.BUFFERING


func _on_stream_closed(result: ResultScript, stream_id: int) -> void:
	if stream_id != _stream_id:
		return
	_stream = null
	if result.ok or result.code == "cancelled":
		return
	var before_playback := state == State.REQUESTING or state == State.BUFFERING
	var policy := _client.retry_policy
	if before_playback and Pacer.should_retry(policy, result.code, _stream_attempt):
		var line_id := _line_id
		var delay := Pacer.retry_delay_s(policy, _stream_attempt, _client.retry_seed)
		push_warning("Mien: stream failed (%s); retry in %.1f s" % [result, delay])
		current_track = null
		state = State.REQUESTING
		await get_tree().create_timer(delay, true, false, true).timeout
		if line_id == _line_id:
			if _decoder != null:
				_decoder = AudioScript.Decoder.new(_line_audio)
			_open_stream()
		return
	if state == State.SPEAKING:
		# The audio goes on; the face falls back to idle for the rest of the line.
		_begin_blend()
		current_track = null
		push_warning("Mien: stream failed mid-line: %s" % result)
		line_failed.emit(result)
		if _generator == null and _line_audio == null:
			_end_line()
		return
	_fail_line(result, _line_audio)
