@tool
class_name MienProtocol
extends RefCounted
## The mien.v1 messages the addon sends and reads (proto3 JSON: camelCase names, bytes as
## base64, enums by name, uint64 as strings); the GDScript twin of the plugin core's
## MienCoreProtocol (C++), checked against the same tests/cases/*.json.
##
## Emotion dictionaries (the addon's user-facing form): [code]{}[/code] (neutral, or auto when
## an NPC id is set), [code]{"auto": true, "game_time_s": 12.5}[/code],
## [code]{"category": "happy", "intensity": 0.8}[/code], [code]{"vad": Vector3(v, a, d)}[/code],
## [code]{"blend": {"happy": 0.6, "surprise": 0.4}}[/code] and
## [code]{"keyframes": [{"time_s": 0.0, "category": "neutral"}, ...]}[/code].

const TrackScript := preload("res://addons/mien/mien_track.gd")

## Proto enum name of signed 16-bit little-endian PCM.
const ENCODING_S16LE := "PCM_ENCODING_S16LE"
## Proto enum name of 32-bit float little-endian PCM.
const ENCODING_F32LE := "PCM_ENCODING_F32LE"


## mien.v1 EmotionValue of one emotion dictionary (category, vad or blend form).
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
	if emotion.has("intensity") and float(emotion["intensity"]) >= 0.0:
		category["intensity"] = float(emotion["intensity"])
	return {"category": category}


## mien.v1 EmotionKeyframe messages of [code][{"time_s": t, <value>}, ...][/code].
static func emotion_keyframes(keyframes: Array) -> Array:
	var out := []
	for keyframe in keyframes:
		var entry: Dictionary = keyframe
		out.append({"timeS": float(entry.get("time_s", 0.0)), "value": emotion_value(entry)})
	return out


## mien.v1 EmotionSpec; {} when the field is to be left out (neutral).
static func emotion_spec(emotion: Dictionary, npc_id: String = "") -> Dictionary:
	if emotion.is_empty():
		return {"auto": {}} if not npc_id.is_empty() else {}
	if emotion.get("auto", false):
		var auto := {}
		if emotion.has("game_time_s") and float(emotion["game_time_s"]) >= 0.0:
			auto["gameTimeS"] = float(emotion["game_time_s"])
		return {"auto": auto}
	if emotion.has("keyframes"):
		return {"keyframes": {"keyframes": emotion_keyframes(emotion["keyframes"])}}
	return {"constant": emotion_value(emotion)}


## {"file": base64} (a complete audio file the sidecar decodes).
static func file_audio(file_bytes: PackedByteArray) -> Dictionary:
	return {"file": Marshalls.raw_to_base64(file_bytes)}


## {"pcm": PcmAudio} for raw samples.
static func pcm_audio(
	pcm: PackedByteArray, sample_rate_hz: int, channels: int, encoding: String = ENCODING_S16LE
) -> Dictionary:
	return {
		"pcm":
		{
			"data": Marshalls.raw_to_base64(pcm),
			"sampleRateHz": sample_rate_hz,
			"encoding": encoding,
			"channels": channels,
		}
	}


## [param settings]: fps, rig, npc_id, seed (< 0 = unset), expression_scale, blink_scale,
## gaze_scale, request_id.
static func _set_common(body: Dictionary, emotion: Dictionary, settings: Dictionary) -> void:
	var npc_id := str(settings.get("npc_id", ""))
	var spec := emotion_spec(emotion, npc_id)
	if not spec.is_empty():
		body["emotion"] = spec
	body["fps"] = float(settings.get("fps", 60.0))
	body["rig"] = str(settings.get("rig", "arkit52"))
	if not npc_id.is_empty():
		body["npcId"] = npc_id
	if int(settings.get("seed", -1)) >= 0:
		body["seed"] = str(int(settings["seed"]))
	body["options"] = {
		"expressionScale": float(settings.get("expression_scale", 1.0)),
		"blinkScale": float(settings.get("blink_scale", 1.0)),
		"gazeScale": float(settings.get("gaze_scale", 1.0)),
	}
	if not str(settings.get("request_id", "")).is_empty():
		body["requestId"] = str(settings["request_id"])


## AnimateLine body of a spoken line: conformance/animate_line_file.json (audio {"file"}),
## conformance/animate_line_pcm.json (audio {"pcm"}), conformance/animate_line_npc_auto.json.
static func animate_line_body(
	audio: Dictionary, transcript: String, emotion: Dictionary, settings: Dictionary
) -> Dictionary:
	var body := {"audio": audio}
	if not transcript.is_empty():
		body["transcript"] = transcript
	_set_common(body, emotion, settings)
	body["mode"] = "ANIMATION_MODE_AUTO"
	return body


## AnimateLine body of an idle (listening) track: conformance/animate_line_idle.json.
static func idle_body(duration_s: float, emotion: Dictionary, settings: Dictionary) -> Dictionary:
	var body := {"idleDurationS": duration_s}
	_set_common(body, emotion, settings)
	return body


## {"header": StreamHeader} (conformance/stream_animate.json). With keyframed emotion the header
## carries the first keyframe's value; the keyframes travel on the audio chunks.
static func stream_header(
	sample_rate_hz: int,
	channels: int,
	emotion: Dictionary,
	settings: Dictionary,
	encoding: String = ENCODING_S16LE
) -> Dictionary:
	var header := {"sampleRateHz": sample_rate_hz, "encoding": encoding, "channels": channels}
	var start := emotion
	if emotion.has("keyframes"):
		var keyframes: Array = emotion["keyframes"]
		start = keyframes[0] if not keyframes.is_empty() else {"category": "neutral"}
		if start.is_empty():
			start = {"category": "neutral"}
	_set_common(header, start, settings)
	return {"header": header}


## {"audio": {"data": base64, "emotionKeyframes": [...]}}.
static func stream_audio(pcm_chunk: PackedByteArray, keyframes: Array = []) -> Dictionary:
	var audio := {"data": Marshalls.raw_to_base64(pcm_chunk)}
	if not keyframes.is_empty():
		audio["emotionKeyframes"] = keyframes
	return {"audio": audio}


## {"end": {}}.
static func stream_end() -> Dictionary:
	return {"end": {}}


## EmotionKeyframe messages of keyframed [param emotion] in [start_s, end_s) (the first chunk
## also takes earlier ones); empty for other emotions.
static func keyframes_in_chunk(
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


## Decodes an AnimationTrack response body: {"track": MienTrack} or {"problem": String}.
static func decode_track(body: Variant) -> Dictionary:
	if not body is Dictionary:
		return {"problem": "response is not a JSON object"}
	var data: Dictionary = body
	var names: Variant = data.get("channelNames")
	if not names is Array:
		return {"problem": "channelNames missing"}
	for name in names:
		if not name is String:
			return {"problem": "channelNames holds a non-string"}
	var problem := _check_names(names)
	if not problem.is_empty():
		return {"problem": problem}
	var raw_values: Variant = data.get("values")
	if raw_values == null:
		return {"problem": "values missing"}
	if not raw_values is Array:
		return {"problem": "values is not an array"}
	for value in raw_values:
		if not (value is float or value is int):
			return {"problem": "values holds a non-number"}
	var count: Variant = data.get("frameCount")
	if not (count is float or count is int) or float(count) < 0.0:
		return {"problem": "frameCount missing"}
	var track: Variant = TrackScript.new()
	track.channel_names = PackedStringArray(names)
	track.fps = float(data.get("fps", 0.0))
	track.frame_count = int(count)
	track.values = PackedFloat32Array(raw_values)
	problem = track.validate()
	if not problem.is_empty():
		return {"problem": problem}
	var metadata: Dictionary = (
		data.get("metadata", {}) if data.get("metadata") is Dictionary else {}
	)
	track.mode = str(metadata.get("mode", ""))
	track.warnings = PackedStringArray(metadata.get("warnings", []))
	track.audio_duration_s = float(metadata.get("audioDurationS", 0.0))
	var seed_value: Variant = metadata.get("seed", "0")
	track.seed_used = seed_value if seed_value is String else str(int(seed_value))
	track.rig = str(metadata.get("rig", ""))
	track.request_id = str(metadata.get("requestId", ""))
	track.emotion = metadata.get("emotion", {})
	for segment in data.get("phones", []):
		if segment is Dictionary:
			(
				track
				. phones
				. append(
					{
						"start_s": float(segment.get("startS", 0.0)),
						"end_s": float(segment.get("endS", 0.0)),
						"phone": str(segment.get("phone", "")),
						"word": str(segment.get("word", "")),
						"viseme": str(segment.get("viseme", "")),
					}
				)
			)
	return {"track": track}


## Decodes a ServiceInfo (Describe) body: {"info": Dictionary} (rigs: {name: channel names},
## rig_names, default_rig, emotions, modes, default_fps, max_audio_s, max_chunk_s,
## stream_stall_timeout_s, min_fps, max_fps, stream_lookahead_ms) or {"problem": String}.
static func decode_service_info(body: Variant) -> Dictionary:
	if not body is Dictionary:
		return {"problem": "response is not a JSON object"}
	var data: Dictionary = body
	if not data.get("rigs") is Array:
		return {"problem": "rigs missing"}
	var rigs := {}
	var rig_names := PackedStringArray()
	for rig in data["rigs"]:
		if not rig is Dictionary or str(rig.get("name", "")).is_empty():
			return {"problem": "a rig without a name"}
		if not rig.get("channelNames") is Array:
			return {"problem": "channelNames missing"}
		rigs[str(rig["name"])] = PackedStringArray(rig["channelNames"])
		rig_names.append(str(rig["name"]))
	var limits: Dictionary = data.get("limits", {}) if data.get("limits") is Dictionary else {}
	var lookahead := 0.0
	for model in data.get("models", []):
		if model is Dictionary:
			lookahead = maxf(lookahead, float(model.get("lookaheadMs", 0.0)))
	var info := {
		"rigs": rigs,
		"rig_names": rig_names,
		"default_rig": str(data.get("defaultRig", "")),
		"emotions": PackedStringArray(data.get("emotions", [])),
		"modes": PackedStringArray(data.get("modes", [])),
		"default_fps": float(data.get("defaultFps", 60.0)),
		"max_audio_s": float(limits.get("maxAudioS", 0.0)),
		"max_chunk_s": float(limits.get("maxChunkS", 0.0)),
		"stream_stall_timeout_s": float(limits.get("streamStallTimeoutS", 0.0)),
		"min_fps": float(limits.get("minFps", 1.0)),
		"max_fps": float(limits.get("maxFps", 240.0)),
		"stream_lookahead_ms": lookahead,
	}
	return {"info": info}


## A gateway error body as {"code", "message"}; bad_response when it is not one.
static func decode_error_body(status: int, text: String) -> Dictionary:
	var parsed: Variant = JSON.parse_string(text)
	if parsed is Dictionary and parsed.get("code") is String and not parsed["code"].is_empty():
		return {"code": parsed["code"], "message": str(parsed.get("message", ""))}
	return {"code": "bad_response", "message": "HTTP %d with an unparsable error body" % status}


static func _check_names(names: Array) -> String:
	if names.is_empty():
		return "no channel names"
	var seen := {}
	for name in names:
		if str(name).is_empty():
			return "empty channel name"
		if seen.has(name):
			return "duplicate channel name %s" % name
		seen[name] = true
	return ""
