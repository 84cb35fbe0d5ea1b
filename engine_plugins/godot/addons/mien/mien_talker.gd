class_name MienTalker
extends Node
## Speaks dialogue lines with Mien facial animation on a [MeshInstance3D]'s blend shapes.
##
## [method say] sends the line's audio (plus transcript and emotion) to the Mien sidecar, plays
## the audio on the configured [AudioStreamPlayer] / [AudioStreamPlayer3D] and applies the
## returned curves in sync with the playback position. Between lines it loops an idle track
## (blinks, gaze, mood) requested from the sidecar. Channels are mapped to blend shapes by name;
## channels the mesh lacks are still readable with [method get_channel_value] (e.g. the
## [code]_deg[/code] eye rotations, to drive eye bones from game code).
## [codeblock]
## @onready var talker: MienTalker = $MienTalker
##
## func greet() -> void:
##     var line := preload("res://voice/guard_hello.wav")
##     var result := await talker.say(line, "Halt! Who goes there?")
##     if not result.ok:
##         push_warning("no face animation: %s" % result.message)
## [/codeblock]
## With [member npc_id] set and no emotion given, the line uses the NPC's current emotional
## state held by the sidecar (emotion [code]auto[/code]).

## Emitted when the face starts following a line (audio starts playing).
signal line_started(track: MienTrack)
## Emitted when a line's audio has finished and the face returns to idle.
signal line_finished
## Emitted when a line could not be animated; [param result] says why.
signal line_failed(result: MienResult)

## What the talker is doing.
enum State { IDLE, REQUESTING, SPEAKING }

## Milliseconds of audio per streamed chunk (the protocol recommends 20-100 ms).
const CHUNK_MS := 100

## Base URL of the Mien gateway.
@export var server_url: String = "http://127.0.0.1:8080"
## Bearer token of the gateway ("" = none).
@export var token: String = ""
## The face mesh whose blend shapes are driven.
@export_node_path("MeshInstance3D") var mesh_path: NodePath
## The player of the line's audio; empty = no audio (the face follows a clock).
@export_node_path("AudioStreamPlayer", "AudioStreamPlayer3D") var audio_player_path: NodePath
## Rig profile of the sidecar (see Describe), e.g. arkit52, vrm, oculus15 or a custom one.
@export var rig: String = "arkit52"
## Frames per second requested from the sidecar.
@export_range(1.0, 240.0) var fps: float = 60.0
## The speaking NPC; with no emotion given, lines and idle use its state (emotion auto).
@export var npc_id: String = ""
## Stream the audio over WebSocket (neural mode, lower latency on long lines; no transcript).
@export var use_streaming: bool = false
## Seed of blinks, gaze and micro-motion (-1 = unset; idle tracks then use a random seed).
@export var line_seed: int = -1

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

## Current state.
var state: State = State.IDLE
## The line being spoken (null when idle).
var current_track: MienTrack = null

var _client: MienClient = null
var _stream: MienStream = null
var _stream_audio: AudioStream = null
var _line_id: int = 0
var _line_start_usec: int = 0
var _idle_track: MienTrack = null
var _idle_start_usec: int = 0
var _idle_requesting: bool = false
var _channel_names := PackedStringArray()
var _channel_index: Dictionary = {}
var _shape_indices := PackedInt32Array()
var _values := PackedFloat32Array()
var _blend_from: Dictionary = {}
var _blend_start_usec: int = 0

@onready var _mesh: MeshInstance3D = get_node_or_null(mesh_path) as MeshInstance3D
@onready var _player: Node = get_node_or_null(audio_player_path)


func _ready() -> void:
	_client = MienClient.new()
	_client.name = "MienClient"
	add_child(_client)
	if _player is AudioStreamPlayer:
		(_player as AudioStreamPlayer).finished.connect(_on_player_finished)
	elif _player is AudioStreamPlayer3D:
		(_player as AudioStreamPlayer3D).finished.connect(_on_player_finished)
	if idle_enabled:
		_refresh_idle()


func _exit_tree() -> void:
	_close_stream()


func _process(_delta: float) -> void:
	if _stream != null:
		_stream.poll()
		if _stream != null and not _stream.is_active():
			_stream = null
	if state == State.SPEAKING:
		_apply_line()
	else:
		_apply_idle()


## Speaks [param stream] with [param text] (its transcript; "" = none) and [param emotion]:
## [code]{}[/code] (auto with [member npc_id], else neutral), [code]{"category": "happy",
## "intensity": 0.8}[/code], [code]{"vad": Vector3(v, a, d)}[/code], [code]{"blend": {...}}[/code],
## [code]{"keyframes": [{"time_s": 0.0, "category": "sad"}, ...]}[/code] or [code]{"auto": true}
## [/code]. A coroutine: await it for the [MienResult] (the request's outcome), or ignore it and
## use the signals. A new line replaces the current one.
func say(stream: AudioStream, text: String = "", emotion: Dictionary = {}) -> MienResult:
	if use_streaming:
		var pcm := MienAudio.pcm_s16(stream)
		if not pcm.ok:
			return _fail_line(pcm)
		return await _speak(stream, {}, pcm.data, text, emotion)
	var audio := MienAudio.audio_input(stream)
	if not audio.ok:
		return _fail_line(audio)
	return await _speak(stream, audio.data, {}, text, emotion)


## Speaks raw signed 16-bit little-endian PCM (e.g. from a TTS engine): the talker builds an
## [AudioStreamWAV] to play it. Same results and signals as [method say].
func say_pcm(
	pcm: PackedByteArray,
	sample_rate_hz: int,
	channels: int = 1,
	text: String = "",
	emotion: Dictionary = {}
) -> MienResult:
	var stream := MienAudio.wav_from_pcm(pcm, sample_rate_hz, channels)
	var pcm_info := {"pcm": pcm, "sample_rate_hz": sample_rate_hz, "channels": channels}
	var audio := {"pcm": MienAudio.pcm_input(pcm, sample_rate_hz, channels)}
	return await _speak(stream, audio, pcm_info, text, emotion)


## Requests the track of a line without playing it (to prefetch); play it later with
## [method play_track]. A coroutine returning a [MienResult].
func request_track(stream: AudioStream, text: String = "", emotion: Dictionary = {}) -> MienResult:
	var audio := MienAudio.audio_input(stream)
	if not audio.ok:
		return audio
	_sync_client()
	var body := MienClient.build_animate_line_body(
		audio.data, text, emotion, fps, rig, npc_id, line_seed, _options()
	)
	return await _client.animate_line(body)


## Plays [param stream] and applies [param track] in sync with it (replacing any current line).
func play_track(stream: AudioStream, track: MienTrack) -> void:
	_stop_line()
	current_track = track
	_start_line(stream)


## Stops the current line (audio and face) and returns to idle without [signal line_finished].
func stop() -> void:
	_line_id += 1
	_stop_line()
	state = State.IDLE


## True while a line is being requested or spoken.
func is_speaking() -> bool:
	return state != State.IDLE


## The value last applied to channel [param channel_name] (0 when unknown).
func get_channel_value(channel_name: String) -> float:
	var index: int = _channel_index.get(channel_name, -1)
	return _values[index] if index >= 0 else 0.0


## The channel names of the track being applied.
func get_channel_names() -> PackedStringArray:
	return _channel_names


## Describe: the sidecar's rigs (with channel names), emotions and limits. A coroutine.
func describe() -> MienResult:
	_sync_client()
	return await _client.describe()


func _speak(
	stream: AudioStream, audio: Dictionary, pcm_info: Dictionary, text: String, emotion: Dictionary
) -> MienResult:
	_stop_line()
	_line_id += 1
	var line_id := _line_id
	state = State.REQUESTING
	if use_streaming:
		var opened := _open_stream(stream, pcm_info, emotion)
		return opened if opened.ok else _fail_line(opened)
	_sync_client()
	var body := MienClient.build_animate_line_body(
		audio, text, emotion, fps, rig, npc_id, line_seed, _options()
	)
	var result := await _client.animate_line(body)
	if line_id != _line_id:
		return MienResult.failure("cancelled", "a newer line replaced this one")
	if not result.ok:
		return _fail_line(result)
	current_track = result.track
	_start_line(stream)
	return result


func _open_stream(stream: AudioStream, pcm_info: Dictionary, emotion: Dictionary) -> MienResult:
	var sample_rate: int = pcm_info["sample_rate_hz"]
	var channels: int = pcm_info["channels"]
	var header := MienClient.build_stream_header(
		sample_rate, channels, emotion, fps, rig, npc_id, line_seed, _options()
	)
	var session := MienStream.new()
	session.header_received.connect(_on_stream_header.bind(session))
	session.frames_received.connect(_on_stream_frames.bind(session))
	session.ended.connect(_on_stream_ended.bind(session))
	session.closed.connect(_on_stream_closed.bind(session))
	_sync_client()
	var error := session.open(server_url, token, header)
	if error != OK:
		return MienResult.failure("transport_error", "cannot open stream: %s" % error_string(error))
	_stream = session
	_stream_audio = stream
	var chunks := MienAudio.chunk_pcm(pcm_info["pcm"], sample_rate, channels, CHUNK_MS)
	for index in chunks.size():
		var chunk_start := index * CHUNK_MS / 1000.0
		var keyframes := MienClient.stream_chunk_keyframes(
			emotion, chunk_start, chunk_start + CHUNK_MS / 1000.0, index == 0
		)
		session.send_audio(chunks[index], keyframes)
	session.end_audio()
	return MienResult.success()


func _start_line(stream: AudioStream) -> void:
	_begin_blend()
	state = State.SPEAKING
	_line_start_usec = Time.get_ticks_usec()
	if stream != null:
		if _player is AudioStreamPlayer:
			var player := _player as AudioStreamPlayer
			player.stream = stream
			player.play()
		elif _player is AudioStreamPlayer3D:
			var player_3d := _player as AudioStreamPlayer3D
			player_3d.stream = stream
			player_3d.play()
	line_started.emit(current_track)


func _stop_line() -> void:
	_close_stream()
	if current_track != null:
		_begin_blend()
	current_track = null
	if _player is AudioStreamPlayer:
		(_player as AudioStreamPlayer).stop()
	elif _player is AudioStreamPlayer3D:
		(_player as AudioStreamPlayer3D).stop()


func _end_line() -> void:
	if state != State.SPEAKING:
		return
	_begin_blend()
	current_track = null
	state = State.IDLE
	line_finished.emit()
	if idle_enabled:
		_refresh_idle()


func _fail_line(result: MienResult) -> MienResult:
	state = State.IDLE
	line_failed.emit(result)
	return result


func _close_stream() -> void:
	if _stream != null:
		var session := _stream
		_stream = null
		session.close()
	_stream_audio = null


## Seconds of the line heard so far: the player's position plus the time since the last mix,
## minus the output latency (Godot's "sync the gameplay with audio" recipe).
func _playback_time() -> float:
	var position := -1.0
	if _player is AudioStreamPlayer:
		var player := _player as AudioStreamPlayer
		if player.playing:
			position = player.get_playback_position()
	elif _player is AudioStreamPlayer3D:
		var player_3d := _player as AudioStreamPlayer3D
		if player_3d.playing:
			position = player_3d.get_playback_position()
	if position < 0.0:
		return (Time.get_ticks_usec() - _line_start_usec) / 1e6
	return maxf(
		position + AudioServer.get_time_since_last_mix() - AudioServer.get_output_latency(), 0.0
	)


func _apply_line() -> void:
	if current_track == null or current_track.frame_count == 0:
		return
	var time_s := _playback_time()
	_apply(current_track, current_track.sample(time_s))
	var has_audio := _player is AudioStreamPlayer or _player is AudioStreamPlayer3D
	if not has_audio and current_track.complete and time_s >= current_track.duration():
		_end_line()


func _apply_idle() -> void:
	if _idle_track == null or _idle_track.frame_count == 0:
		return
	var length := _idle_track.duration()
	var elapsed := (Time.get_ticks_usec() - _idle_start_usec) / 1e6
	_apply(_idle_track, _idle_track.sample(fmod(elapsed, length)))


func _apply(track: MienTrack, frame: PackedFloat32Array) -> void:
	if track.channel_names != _channel_names:
		_bind_channels(track.channel_names)
	var weight := 1.0
	if blend_time_s > 0.0:
		weight = clampf((Time.get_ticks_usec() - _blend_start_usec) / 1e6 / blend_time_s, 0.0, 1.0)
	for index in mini(frame.size(), _values.size()):
		var value := frame[index]
		if weight < 1.0:
			value = lerpf(float(_blend_from.get(_channel_names[index], 0.0)), value, weight)
		_values[index] = value
		var shape := _shape_indices[index]
		if shape >= 0 and _mesh != null:
			_mesh.set_blend_shape_value(shape, value)


func _bind_channels(names: PackedStringArray) -> void:
	_channel_names = names
	_channel_index.clear()
	_shape_indices.resize(names.size())
	_values.resize(names.size())
	for index in names.size():
		_channel_index[names[index]] = index
		_values[index] = float(_blend_from.get(names[index], 0.0))
		var shape := -1
		if _mesh != null and not names[index].ends_with(MienTrack.DEGREE_SUFFIX):
			shape = _mesh.find_blend_shape_by_name(StringName(names[index]))
		_shape_indices[index] = shape


func _begin_blend() -> void:
	_blend_from.clear()
	for index in _channel_names.size():
		_blend_from[_channel_names[index]] = _values[index]
	_blend_start_usec = Time.get_ticks_usec()


func _refresh_idle() -> void:
	if _idle_requesting or not is_inside_tree():
		return
	_idle_requesting = true
	_sync_client()
	var idle_seed := line_seed if line_seed >= 0 else randi()
	var body := MienClient.build_idle_body(
		idle_duration_s, idle_emotion, fps, rig, npc_id, idle_seed, _options()
	)
	var result := await _client.animate_line(body)
	_idle_requesting = false
	if not result.ok:
		push_warning("Mien idle track failed: %s" % result)
		return
	if state == State.IDLE:
		_begin_blend()
	_idle_track = result.track
	_idle_start_usec = Time.get_ticks_usec()


func _sync_client() -> void:
	_client.server_url = server_url
	_client.token = token
	_client.timeout_s = request_timeout_s


func _options() -> Dictionary:
	return MienClient.animation_options(expression_scale, blink_scale, gaze_scale)


func _on_player_finished() -> void:
	if state == State.SPEAKING:
		_end_line()


func _on_stream_header(
	_names: PackedStringArray, _fps: float, _lookahead_ms: float, session: MienStream
) -> void:
	if session != _stream:
		return
	current_track = MienTrack.from_stream_header(session.header)


func _on_stream_frames(
	first_frame: int, batch_count: int, batch_values: PackedFloat32Array, session: MienStream
) -> void:
	if session != _stream or current_track == null:
		return
	if not current_track.append_frames(first_frame, batch_count, batch_values):
		_close_stream()
		_stop_line()
		_fail_line(MienResult.failure("bad_response", "frame batch out of order or mis-sized"))
		return
	if state == State.REQUESTING:
		_start_line(_stream_audio)


func _on_stream_ended(_frame_count: int, _audio_duration_s: float, session: MienStream) -> void:
	if session == _stream and current_track != null:
		current_track.complete = true


func _on_stream_closed(result: MienResult, session: MienStream) -> void:
	if session != _stream:
		return
	if result.ok:
		return
	var was_speaking := state == State.SPEAKING
	_stream = null
	_stop_line()
	state = State.IDLE
	if was_speaking or result.code != "cancelled":
		line_failed.emit(result)
