@tool
class_name MienClient
extends Node
## HTTP/JSON client of the Mien sidecar gateway (unary RPCs, Connect style).
##
## Each call creates its own [HTTPRequest] child, so calls may overlap. Every call is a coroutine
## returning a [MienResult]: [code]var result := await client.animate_line(body)[/code].
## Request bodies are the proto3 JSON mapping of mien.v1 messages (camelCase names, bytes as
## base64, enums by name, uint64 as strings); the exact requests are recorded in
## [code]conformance/*.json[/code] and checked against a live gateway by the project's tests.

## Path of the unary AnimateLine RPC.
const ANIMATE_LINE_PATH := "/mien.v1.FaceAnimation/AnimateLine"
## Path of the unary Describe RPC.
const DESCRIBE_PATH := "/mien.v1.FaceAnimation/Describe"
## Path of the WebSocket StreamAnimate RPC.
const STREAM_ANIMATE_PATH := "/mien.v1.FaceAnimation/StreamAnimate"
## Path of the health check.
const HEALTH_PATH := "/healthz"

## Base URL of the gateway, e.g. [code]http://127.0.0.1:8080[/code].
var server_url: String = "http://127.0.0.1:8080"
## Bearer token ("" = none); sent as [code]Authorization: Bearer <token>[/code].
var token: String = ""
## Seconds before a request fails with [code]timeout[/code] (0 = no timeout).
var timeout_s: float = 30.0


## Converts the addon's emotion dictionary into a mien.v1 EmotionSpec (proto3 JSON).
## Accepted forms: [code]{}[/code] (neutral, or [code]auto[/code] when [param npc_id] is set),
## [code]{"auto": true, "game_time_s": 12.5}[/code], [code]{"category": "happy",
## "intensity": 0.8}[/code], [code]{"vad": Vector3(valence, arousal, dominance)}[/code],
## [code]{"blend": {"happy": 0.6, "surprise": 0.4}}[/code], and
## [code]{"keyframes": [{"time_s": 0.0, "category": "neutral"}, ...]}[/code].
## Returns {} for neutral (the field is then omitted).
static func emotion_spec(emotion: Dictionary, npc_id: String = "") -> Dictionary:
	if emotion.is_empty():
		return {"auto": {}} if not npc_id.is_empty() else {}
	if emotion.get("auto", false):
		var auto := {}
		if emotion.has("game_time_s"):
			auto["gameTimeS"] = float(emotion["game_time_s"])
		return {"auto": auto}
	if emotion.has("keyframes"):
		return {"keyframes": {"keyframes": emotion_keyframes(emotion["keyframes"])}}
	return {"constant": emotion_value(emotion)}


## Converts one emotion dictionary (category, vad or blend form) into a mien.v1 EmotionValue.
static func emotion_value(emotion: Dictionary) -> Dictionary:
	if emotion.has("vad"):
		var vad: Variant = emotion["vad"]
		var point := Vector3(vad[0], vad[1], vad[2]) if vad is Array else Vector3(vad)
		return {"vad": {"valence": point.x, "arousal": point.y, "dominance": point.z}}
	if emotion.has("blend"):
		var weights := {}
		var blend: Dictionary = emotion["blend"]
		for category in blend:
			weights[str(category)] = float(blend[category])
		return {"blend": {"weights": weights}}
	var category := {"name": str(emotion.get("category", "neutral"))}
	if emotion.has("intensity"):
		category["intensity"] = float(emotion["intensity"])
	return {"category": category}


## Converts [code][{"time_s": t, <emotion value>}, ...][/code] into EmotionKeyframe messages.
static func emotion_keyframes(keyframes: Array) -> Array:
	var out := []
	for keyframe in keyframes:
		var entry: Dictionary = keyframe
		out.append({"timeS": float(entry.get("time_s", 0.0)), "value": emotion_value(entry)})
	return out


## The AnimationOptions message (scales of the non-speech layers, each 0..2).
static func animation_options(
	expression_scale: float, blink_scale: float, gaze_scale: float
) -> Dictionary:
	return {
		"expressionScale": expression_scale,
		"blinkScale": blink_scale,
		"gazeScale": gaze_scale,
	}


## Body of an AnimateLine request for one spoken line.
## Sent as in conformance/animate_line_file.json (audio = {"file": ...}),
## conformance/animate_line_pcm.json (audio = {"pcm": {...}}) and
## conformance/animate_line_npc_auto.json (npcId + emotion auto).
## [param audio] comes from [method MienAudio.audio_input]; [param line_seed] < 0 leaves it unset.
static func build_animate_line_body(
	audio: Dictionary,
	transcript: String,
	emotion: Dictionary,
	fps: float,
	rig: String,
	npc_id: String = "",
	line_seed: int = -1,
	options: Dictionary = {}
) -> Dictionary:
	var body := {"audio": audio, "fps": fps, "rig": rig}
	if not transcript.is_empty():
		body["transcript"] = transcript
	var spec := emotion_spec(emotion, npc_id)
	if not spec.is_empty():
		body["emotion"] = spec
	if not npc_id.is_empty():
		body["npcId"] = npc_id
	if line_seed >= 0:
		body["seed"] = str(line_seed)
	if not options.is_empty():
		body["options"] = options
	body["mode"] = "ANIMATION_MODE_AUTO"
	return body


## Body of an AnimateLine request for an idle (listening) track of [param duration_s] seconds:
## blinks, gaze and expression, no audio. Sent as in conformance/animate_line_idle.json.
static func build_idle_body(
	duration_s: float,
	emotion: Dictionary,
	fps: float,
	rig: String,
	npc_id: String = "",
	line_seed: int = -1,
	options: Dictionary = {}
) -> Dictionary:
	var body := {"idleDurationS": duration_s, "fps": fps, "rig": rig}
	var spec := emotion_spec(emotion, npc_id)
	if not spec.is_empty():
		body["emotion"] = spec
	if not npc_id.is_empty():
		body["npcId"] = npc_id
	if line_seed >= 0:
		body["seed"] = str(line_seed)
	if not options.is_empty():
		body["options"] = options
	return body


## The header message of a StreamAnimate stream (conformance/stream_animate.json).
## With keyframed [param emotion], the header carries the first keyframe's value and the
## keyframes travel on the audio chunks (see [method stream_chunk_keyframes]).
static func build_stream_header(
	sample_rate_hz: int,
	channels: int,
	emotion: Dictionary,
	fps: float,
	rig: String,
	npc_id: String = "",
	line_seed: int = -1,
	options: Dictionary = {}
) -> Dictionary:
	var header := {
		"sampleRateHz": sample_rate_hz,
		"encoding": MienAudio.ENCODING_S16LE,
		"channels": channels,
		"fps": fps,
		"rig": rig,
	}
	var start_emotion := emotion
	if emotion.has("keyframes"):
		var keyframes: Array = emotion["keyframes"]
		start_emotion = keyframes[0] if not keyframes.is_empty() else {}
	var spec := emotion_spec(start_emotion, npc_id)
	if not spec.is_empty():
		header["emotion"] = spec
	if not npc_id.is_empty():
		header["npcId"] = npc_id
	if line_seed >= 0:
		header["seed"] = str(line_seed)
	if not options.is_empty():
		header["options"] = options
	return header


## The EmotionKeyframe messages of keyframed [param emotion] whose time falls in the chunk
## [param start_s, end_s) (the first chunk also takes earlier ones). Empty for other emotions.
static func stream_chunk_keyframes(
	emotion: Dictionary, start_s: float, end_s: float, first_chunk: bool
) -> Array:
	var out := []
	if not emotion.has("keyframes"):
		return out
	for keyframe in emotion_keyframes(emotion["keyframes"]):
		var time_s: float = keyframe["timeS"]
		if (time_s >= start_s or first_chunk) and time_s < end_s:
			out.append(keyframe)
	return out


## Rig profile names listed by a Describe response.
static func describe_rig_names(describe_data: Dictionary) -> PackedStringArray:
	var names := PackedStringArray()
	for rig_info in describe_data.get("rigs", []):
		if rig_info is Dictionary:
			names.append(str(rig_info.get("name", "")))
	return names


## Channel names of [param rig] in a Describe response (empty when the rig is not listed).
static func describe_rig_channels(describe_data: Dictionary, rig: String) -> PackedStringArray:
	for rig_info in describe_data.get("rigs", []):
		if rig_info is Dictionary and str(rig_info.get("name", "")) == rig:
			return PackedStringArray(rig_info.get("channelNames", []))
	return PackedStringArray()


## Emotion categories a Describe response accepts.
static func describe_emotions(describe_data: Dictionary) -> PackedStringArray:
	return PackedStringArray(describe_data.get("emotions", []))


## The WebSocket URL of [param path] for [param base_url] (http -> ws, https -> wss).
static func websocket_url(base_url: String, path: String) -> String:
	var base := base_url.strip_edges().trim_suffix("/")
	if base.begins_with("https://"):
		base = "wss://" + base.substr(8)
	elif base.begins_with("http://"):
		base = "ws://" + base.substr(7)
	return base + path


## HTTP headers of every request.
func request_headers() -> PackedStringArray:
	var headers := PackedStringArray(["Content-Type: application/json"])
	if not token.is_empty():
		headers.append("Authorization: Bearer %s" % token)
	return headers


## Unary AnimateLine: returns the track in [member MienResult.track].
func animate_line(body: Dictionary) -> MienResult:
	var result := await post_json(ANIMATE_LINE_PATH, body)
	if not result.ok:
		return result
	return MienTrack.parse_animation_track(result.data)


## Describe (conformance/describe.json): rigs and their channels, emotions, limits in
## [member MienResult.data].
func describe() -> MienResult:
	return await post_json(DESCRIBE_PATH, {})


## GET /healthz (conformance/healthz.json): ok when the gateway answers 200.
func health() -> MienResult:
	return await _request(HEALTH_PATH, HTTPClient.METHOD_GET, "", false)


## POSTs [param body] as JSON to the unary RPC at [param rpc_path].
func post_json(rpc_path: String, body: Dictionary) -> MienResult:
	return await _request(rpc_path, HTTPClient.METHOD_POST, JSON.stringify(body), true)


func _request(
	path: String, method: HTTPClient.Method, body_text: String, expect_json: bool
) -> MienResult:
	if not is_inside_tree():
		return MienResult.failure("transport_error", "MienClient is not in the scene tree")
	var http := HTTPRequest.new()
	http.timeout = timeout_s
	add_child(http)
	var url := server_url.strip_edges().trim_suffix("/") + path
	var error := http.request(url, request_headers(), method, body_text)
	if error != OK:
		http.queue_free()
		return MienResult.failure(
			"transport_error", "cannot send %s: %s" % [url, error_string(error)]
		)
	var response: Array = await http.request_completed
	http.queue_free()
	return _response_result(url, response, expect_json)


func _response_result(url: String, response: Array, expect_json: bool) -> MienResult:
	var outcome: int = response[0]
	var status: int = response[1]
	var body: PackedByteArray = response[3]
	if outcome == HTTPRequest.RESULT_TIMEOUT:
		return MienResult.failure("timeout", "%s did not answer within %s s" % [url, timeout_s])
	if outcome != HTTPRequest.RESULT_SUCCESS:
		return MienResult.failure(
			"transport_error", "%s failed (HTTPRequest result %d)" % [url, outcome]
		)
	var text := body.get_string_from_utf8()
	if status != 200:
		return MienResult.from_error_body(status, text)
	if not expect_json:
		return MienResult.success(null, {"body": text}, status)
	var parsed: Variant = JSON.parse_string(text)
	if not parsed is Dictionary:
		return MienResult.failure("bad_response", "%s: response is not a JSON object" % url, status)
	return MienResult.success(null, parsed, status)
