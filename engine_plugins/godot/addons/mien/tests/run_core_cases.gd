extends SceneTree
## Runs the plugin-core conformance cases (tests/cases/*.json, the same files the C++ core is
## checked against in CI) on the addon's GDScript twin, inside Godot:
## [codeblock]
## godot --headless --path <your project> --script res://addons/mien/tests/run_core_cases.gd
## [/codeblock]
## Prints one line per failure, then "N passed, M failed", and exits with 1 on any failure.

const CASES_DIR := "res://addons/mien/tests/cases"
const Pacer := preload("res://addons/mien/core/mien_pacer.gd")
const Protocol := preload("res://addons/mien/core/mien_protocol.gd")
const Receiver := preload("res://addons/mien/core/mien_stream_receiver.gd")
const ChannelMap := preload("res://addons/mien/core/mien_channel_map.gd")
const Rotation := preload("res://addons/mien/core/mien_rotation.gd")
const TrackScript := preload("res://addons/mien/mien_track.gd")

var _passed := 0
var _failed := 0


func _init() -> void:
	var files := DirAccess.get_files_at(CASES_DIR)
	for file_name in files:
		if file_name.get_extension() != "json":
			continue
		var document: Variant = JSON.parse_string(
			FileAccess.get_file_as_string(CASES_DIR.path_join(file_name))
		)
		if not document is Dictionary:
			_report(false, file_name, "cannot parse")
			continue
		var kind := str(document.get("kind", ""))
		for case in document.get("cases", []):
			_run(kind, case, "%s/%s" % [file_name, case.get("name", "")])
	print("%d passed, %d failed" % [_passed, _failed])
	quit(1 if _failed > 0 else 0)


func _run(kind: String, case: Dictionary, where: String) -> void:
	match kind:
		"track_sample":
			_track_sample(case, where)
		"track_decode":
			_track_decode(case, where)
		"describe_decode":
			_describe_decode(case, where)
		"error_decode":
			var failure := Protocol.decode_error_body(int(case["status"]), _text(case["body"]))
			_report(failure["code"] == case["expected"]["code"], where, str(failure))
			_report(
				str(failure["message"]).contains(case["expected"]["message"]), where, str(failure)
			)
		"stream_receive":
			_stream_receive(case, where)
		"channel_map":
			_channel_map(case, where)
		"rotation":
			_rotation(case, where)
		"retry":
			_retry(case, where)
		"pacer":
			_pacer(case, where)
		"command":
			_command(case, where)
		"encode":
			_encode(case, where)
		"json":
			_json(case, where)
		_:
			_report(false, where, "unknown case kind " + kind)


func _report(ok: bool, where: String, what: String) -> void:
	if ok:
		_passed += 1
	else:
		_failed += 1
		print("FAIL %s: %s" % [where, what])


func _near(a: float, b: float, tolerance: float = 1e-5) -> bool:
	return absf(a - b) <= tolerance * (1.0 + absf(b))


func _floats_near(a: PackedFloat32Array, b: Array) -> bool:
	if a.size() != b.size():
		return false
	for index in a.size():
		if not _near(a[index], float(b[index])):
			return false
	return true


func _text(message: Variant) -> String:
	return message if message is String else JSON.stringify(message)


func _json_equal(a: Variant, b: Variant) -> bool:
	if (a is float or a is int) and (b is float or b is int):
		return _near(float(a), float(b), 1e-6)
	if a is Dictionary and b is Dictionary:
		var same: bool = a.size() == b.size()
		for key in a:
			same = same and b.has(key) and _json_equal(a[key], b[key])
		return same
	if a is Array and b is Array:
		var equal: bool = a.size() == b.size()
		for index in mini(a.size(), b.size()):
			equal = equal and _json_equal(a[index], b[index])
		return equal
	return typeof(a) == typeof(b) and a == b


func _track_of(spec: Dictionary) -> TrackScript:
	var track := TrackScript.new()
	track.channel_names = PackedStringArray(spec["channelNames"])
	track.fps = float(spec["fps"])
	track.frame_count = int(spec["frameCount"])
	track.values = PackedFloat32Array(spec["values"])
	return track


func _track_sample(case: Dictionary, where: String) -> void:
	var track := _track_of(case["track"])
	for sample in case.get("samples", []):
		var got := track.sample(float(sample["timeS"]))
		_report(_floats_near(got, sample["expected"]), where, "%s at %s" % [got, sample["timeS"]])
	for append in case.get("appends", []):
		var grown := _track_of(case["track"])
		var ok := grown.append_frames(
			int(append["firstFrame"]),
			int(append["frameCount"]),
			PackedFloat32Array(append["values"])
		)
		_report(ok == append["expected"], where + " append", str(ok))


func _track_decode(case: Dictionary, where: String) -> void:
	var expected: Dictionary = case["expected"]
	var body: Variant = case["body"]
	if body is String:
		var parsed: Variant = JSON.parse_string(body)
		body = parsed
	var decoded := Protocol.decode_track(body)
	if body == null:
		decoded = {"problem": "response is not JSON"}
	if not expected["ok"]:
		_report(
			decoded.has("problem") and str(decoded["problem"]).contains(expected["problem"]),
			where,
			str(decoded)
		)
		return
	_report(decoded.has("track"), where, str(decoded))
	if not decoded.has("track"):
		return
	var track: TrackScript = decoded["track"]
	_report(track.channel_names == PackedStringArray(expected["channelNames"]), where, "names")
	_report(track.frame_count == int(expected["frameCount"]), where, "frameCount")
	_report(_near(track.fps, expected["fps"]), where, "fps")
	_report(track.mode == expected["mode"], where, "mode " + track.mode)
	_report(track.seed_used == expected["seed"], where, "seed " + track.seed_used)
	_report(track.warnings == PackedStringArray(expected["warnings"]), where, "warnings")
	_report(track.phones.size() == int(expected["phones"]), where, "phones")


func _describe_decode(case: Dictionary, where: String) -> void:
	var expected: Dictionary = case["expected"]
	var decoded := Protocol.decode_service_info(case["body"])
	if not expected["ok"]:
		_report(str(decoded.get("problem", "")).contains(expected["problem"]), where, str(decoded))
		return
	var info: Dictionary = decoded.get("info", {})
	_report(info.get("rig_names") == PackedStringArray(expected["rigs"]), where, "rigs")
	_report(info.get("default_rig") == expected["defaultRig"], where, "defaultRig")
	_report(_near(info.get("max_chunk_s", -1.0), expected["maxChunkS"]), where, "maxChunkS")
	_report(
		_near(info.get("stream_lookahead_ms", -1.0), expected["streamLookaheadMs"]),
		where,
		"lookahead"
	)
	_report(
		_near(info.get("stream_stall_timeout_s", -1.0), expected["streamStallTimeoutS"]),
		where,
		"stall"
	)
	var channels: PackedStringArray = info.get("rigs", {}).get(
		expected["rigWithChannels"], PackedStringArray()
	)
	_report(channels.size() == int(expected["rigChannelCount"]), where, "rig channels")


func _stream_receive(case: Dictionary, where: String) -> void:
	var receiver := Receiver.new()
	var events: Array[Dictionary] = []
	if case.get("connected", true):
		receiver.on_connected()
	for message in case.get("messages", []):
		events.append_array(receiver.on_message(_text(message)))
	if case.get("close") is Dictionary:
		events.append_array(
			receiver.on_closed(int(case["close"]["code"]), str(case["close"]["reason"]))
		)
	var expected: Array = case["expected"]
	_report(
		events.size() == expected.size(),
		where,
		"%d events, expected %d" % [events.size(), expected.size()]
	)
	for index in mini(events.size(), expected.size()):
		var event := events[index]
		var want: Dictionary = expected[index]
		var kind: String = event["kind"]
		_report(kind == want["kind"], where, "event %d is %s" % [index, kind])
		if kind == "header" and want["kind"] == kind:
			_report(
				event["channel_names"] == PackedStringArray(want["channelNames"]), where, "names"
			)
			_report(_near(event["fps"], want["fps"]), where, "fps")
		elif kind == "frames" and want["kind"] == kind:
			_report(
				(
					event["first_frame"] == int(want["firstFrame"])
					and event["frame_count"] == int(want["frameCount"])
				),
				where,
				str(event)
			)
		elif kind == "end" and want["kind"] == kind:
			_report(event["frame_count"] == int(want["frameCount"]), where, "end count")
		elif kind == "finished" and want["kind"] == kind:
			_report(
				event["code"] == want["code"], where, "%s: %s" % [event["code"], event["message"]]
			)


func _channel_map(case: Dictionary, where: String) -> void:
	var map := ChannelMap.from_dictionary(case["map"])
	var expected: Dictionary = case["expected"]
	_report(map.validate().size() == int(expected["problems"]), where, str(map.validate()))
	var binding := map.bind(PackedStringArray(case["channels"]))
	_report(binding["names"] == PackedStringArray(expected["names"]), where, str(binding["names"]))
	_report(binding["missing"] == PackedStringArray(expected["missing"]), where, "missing")
	for index in case["frames"].size():
		var out := ChannelMap.apply(binding, PackedFloat32Array(case["frames"][index]))
		_report(_floats_near(out, expected["frames"][index]), where, str(out))


func _rotation(case: Dictionary, where: String) -> void:
	if case.has("channels"):
		var groups := Rotation.find_groups(PackedStringArray(case["channels"]))
		var expected: Array = case["expected"]
		_report(groups.size() == expected.size(), where, str(groups))
		for index in mini(groups.size(), expected.size()):
			var want: Dictionary = expected[index]
			var group := groups[index]
			_report(
				(
					group["group"] == want["group"]
					and group["yaw"] == int(want["yaw"])
					and group["pitch"] == int(want["pitch"])
					and group["roll"] == int(want["roll"])
				),
				where,
				str(group)
			)
		return
	var q := Rotation.quat_from_yaw_pitch_roll(
		case["yawDeg"],
		case["pitchDeg"],
		case["rollDeg"],
		_vec(case["yawAxis"]),
		_vec(case["pitchAxis"]),
		_vec(case["rollAxis"])
	)
	_report(_floats_near(PackedFloat32Array([q.x, q.y, q.z, q.w]), case["expected"]), where, str(q))


func _vec(values: Array) -> Vector3:
	return Vector3(values[0], values[1], values[2])


func _policy(spec: Dictionary) -> Dictionary:
	return {
		"base_delay_s": spec.get("baseDelayS", 0.5),
		"factor": spec.get("factor", 2.0),
		"max_delay_s": spec.get("maxDelayS", 8.0),
		"jitter": spec.get("jitter", 0.2),
		"max_attempts": spec.get("maxAttempts", 4),
	}


func _retry(case: Dictionary, where: String) -> void:
	var policy := _policy(case["policy"])
	for delay in case.get("delays", []):
		var got := Pacer.retry_delay_s(policy, int(delay["attempt"]), int(case["seed"]))
		_report(
			_near(got, delay["delayS"], 1e-9), where, "attempt %s: %s" % [delay["attempt"], got]
		)
	for check in case.get("shouldRetry", []):
		var got := Pacer.should_retry(policy, check["code"], int(check["attemptsMade"]))
		_report(got == check["expected"], where, "should_retry %s" % check["code"])
	for check in case.get("startPlayback", []):
		var got := Pacer.should_start_playback(
			int(check["frames"]), check["fps"], check["ended"], check["startBufferS"]
		)
		_report(got == check["expected"], where, "start playback %s" % check)
	for check in case.get("heard", []):
		var got := Pacer.heard_time_s(
			int(check["frames"]), int(check["sampleRateHz"]), check["latencyS"]
		)
		_report(_near(got, check["expected"], 1e-9), where, "heard %s" % got)


func _pacer(case: Dictionary, where: String) -> void:
	var config: Dictionary = case["config"]
	var pacer := Pacer.new(
		int(config.get("sampleRateHz", 16000)),
		int(config.get("channels", 1)),
		2,
		int(config.get("chunkMs", 100)),
		float(config.get("leadS", 0.5))
	)
	var got := PackedStringArray()
	var produced := 0
	for event in case["events"]:
		var now := float(event["t"])
		if event.has("push"):
			var data := PackedByteArray()
			data.resize(int(event["push"]))
			for index in data.size():
				data[index] = (produced + index) & 0xFF
			produced += data.size()
			pacer.push(data)
		if event.get("finish", false):
			pacer.finish()
		for item in pacer.poll(now):
			if item.has("end"):
				got.append("%s:end" % now)
				continue
			var data: PackedByteArray = item["data"]
			var intact := true
			for index in data.size():
				intact = intact and data[index] == (int(item["offset"]) + index) & 0xFF
			got.append(
				(
					"%s:chunk%d@%d+%d%s"
					% [now, item["index"], item["offset"], data.size(), "" if intact else "!"]
				)
			)
	var want := PackedStringArray()
	for item in case["expected"]:
		if item.get("end", false):
			want.append("%s:end" % float(item["t"]))
		else:
			want.append(
				(
					"%s:chunk%d@%d+%d"
					% [float(item["t"]), item["index"], item["offset"], item["bytes"]]
				)
			)
	_report(got == want, where, "%s != %s" % [got, want])
	if case.has("chunkBytes"):
		_report(pacer.chunk_bytes == int(case["chunkBytes"]), where, "chunk bytes")


func _command(case: Dictionary, where: String) -> void:
	var result := Pacer.split_command_line(case["command"])
	if case.has("problem"):
		_report(str(result.get("problem", "")).contains(case["problem"]), where, str(result))
	else:
		_report(result.get("args") == PackedStringArray(case["expected"]), where, str(result))


## The case's emotion spec in the addon's dictionary form.
func _emotion_of(spec: Dictionary) -> Dictionary:
	var kind := str(spec.get("kind", "default"))
	if kind == "auto":
		return {"auto": true, "game_time_s": spec.get("gameTimeS", -1.0)}
	if kind == "constant":
		return _value_of(spec["value"])
	if kind == "keyframes":
		var keyframes := []
		for keyframe in spec["keyframes"]:
			var entry := _value_of(keyframe["value"])
			entry["time_s"] = keyframe["timeS"]
			keyframes.append(entry)
		return {"keyframes": keyframes}
	return {}


func _value_of(spec: Dictionary) -> Dictionary:
	if spec.has("vad"):
		return {"vad": Vector3(spec["vad"][0], spec["vad"][1], spec["vad"][2])}
	if spec.has("blend"):
		return {"blend": spec["blend"]}
	var out := {"category": spec.get("category", "neutral")}
	if spec.has("intensity"):
		out["intensity"] = spec["intensity"]
	return out


func _settings_of(spec: Dictionary) -> Dictionary:
	return {
		"fps": spec.get("fps", 60.0),
		"rig": spec.get("rig", "arkit52"),
		"npc_id": spec.get("npcId", ""),
		"seed": int(spec.get("seed", -1)),
		"expression_scale": spec.get("expressionScale", 1.0),
		"blink_scale": spec.get("blinkScale", 1.0),
		"gaze_scale": spec.get("gazeScale", 1.0),
	}


func _encode(case: Dictionary, where: String) -> void:
	var emotion := _emotion_of(case.get("emotion", {}))
	var settings := _settings_of(case.get("settings", {}))
	var got: Variant = null
	match str(case["kind"]):
		"streamHeader":
			got = Protocol.stream_header(
				int(case["sampleRateHz"]), int(case.get("channels", 1)), emotion, settings
			)
		"idle":
			got = Protocol.idle_body(case["durationS"], emotion, settings)
		"animateLinePcm":
			var pcm := Marshalls.base64_to_raw(case["pcmBase64"])
			got = Protocol.animate_line_body(
				Protocol.pcm_audio(pcm, int(case["sampleRateHz"]), int(case.get("channels", 1))),
				str(case.get("transcript", "")),
				emotion,
				settings
			)
		"chunkKeyframes":
			var times := []
			for keyframe in Protocol.keyframes_in_chunk(
				emotion, case["startS"], case["endS"], case.get("firstChunk", false)
			):
				times.append(keyframe["timeS"])
			got = times
		"streamEnd":
			got = Protocol.stream_end()
	# Compare what goes on the wire: JSON text parsed back (as the gateway reads it).
	var wire: Variant = JSON.parse_string(JSON.stringify(got))
	_report(_json_equal(wire, case["expected"]), where, JSON.stringify(got))


func _json(case: Dictionary, where: String) -> void:
	var text: String = case["text"]
	if case.has("base64"):
		_report(Marshalls.utf8_to_base64(text) == case["base64"], where, "base64")
		return
	if case.get("cppOnly", false):
		return  # the C++ core's own parser; Godot parses with its engine JSON
	var json := JSON.new()
	var error := json.parse(text)
	if case.has("problem"):
		# Godot's parser reports its own messages; only the outcome must agree.
		_report(error != OK, where, "parsed invalid JSON")
		return
	_report(error == OK, where, json.get_error_message())
