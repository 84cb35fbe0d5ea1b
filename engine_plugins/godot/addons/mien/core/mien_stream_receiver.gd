@tool
class_name MienStreamReceiver
extends RefCounted
## The client side of StreamAnimate as a state machine, the GDScript twin of the plugin core's
## FStreamReceiver: checks that the server sends one header first, frame batches contiguous and
## of the header's width, one end whose count matches, then the status. Anything else finishes
## the stream with bad_response; a socket closed before the status finishes it with
## transport_error (never connected), unauthenticated (1008), resource_exhausted (1009) or
## unavailable. Exactly one "finished" event is produced; later input is ignored.
##
## Events are dictionaries: {"kind": "header", "channel_names", "fps", "lookahead_ms"},
## {"kind": "frames", "first_frame", "frame_count", "values"}, {"kind": "end", "frame_count",
## "audio_duration_s"}, {"kind": "finished", "code", "message"}.

var connected := false
var finished := false
var has_header := false
var has_end := false
var frames_received: int = 0
var channel_names := PackedStringArray()


## The socket opened.
func on_connected() -> void:
	connected = true


## One text frame from the server; returns the events it produced.
func on_message(text: String) -> Array[Dictionary]:
	if finished:
		return []
	var parsed: Variant = JSON.parse_string(text)
	var problem := _shape_problem(parsed)
	if not problem.is_empty():
		return _finish("bad_response", problem)
	var kind: String = parsed.keys()[0]
	var handlers := {
		"status": _on_status, "header": _on_header, "frames": _on_frames, "end": _on_end
	}
	var handler: Callable = handlers.get(kind, Callable())
	if handler.is_valid():
		return handler.call(parsed[kind])
	return _finish("bad_response", "unknown stream message %s" % kind)


## The socket closed with [param close_code]; returns the events it produced.
func on_closed(close_code: int, reason: String) -> Array[Dictionary]:
	if finished:
		return []
	var detail := (
		"StreamAnimate closed before a status (code %d%s)"
		% [close_code, ", " + reason if not reason.is_empty() else ""]
	)
	if not connected:
		return _finish("transport_error", detail)
	if close_code == 1008:
		return _finish("unauthenticated", detail)
	if close_code == 1009:
		return _finish("resource_exhausted", detail)
	return _finish("unavailable", detail)


## Finishes with [param code] (e.g. cancelled when the client closes).
func abort(code: String, message: String) -> Array[Dictionary]:
	return _finish(code, message)


## Why a parsed message cannot be handled in this state ("" when it can).
func _shape_problem(parsed: Variant) -> String:
	if not parsed is Dictionary or parsed.size() != 1:
		return "stream message is not a JSON object with one member"
	var kind: String = parsed.keys()[0]
	if not parsed[kind] is Dictionary:
		return "stream message %s is not an object" % kind
	if kind != "status" and has_end:
		return "stream message %s after the end message" % kind
	if kind != "status" and kind != "header" and not has_header:
		return "stream message %s before the header" % kind
	return ""


func _on_status(part: Dictionary) -> Array[Dictionary]:
	var code := str(part.get("code", ""))
	if code == "ok" and not has_end:
		return _finish("bad_response", "status ok before the end message")
	return _finish(code if not code.is_empty() else "bad_response", str(part.get("message", "")))


func _on_end(part: Dictionary) -> Array[Dictionary]:
	var count: Variant = part.get("frameCount")
	if not (count is float or count is int) or int(count) != frames_received:
		return _finish("bad_response", "end: frameCount does not match the frames received")
	has_end = true
	var events: Array[Dictionary] = [
		{
			"kind": "end",
			"frame_count": int(count),
			"audio_duration_s": float(part.get("audioDurationS", 0.0)),
		}
	]
	return events


func _on_header(part: Dictionary) -> Array[Dictionary]:
	if has_header:
		return _finish("bad_response", "a second stream header")
	var names: Variant = part.get("channelNames")
	if not names is Array or names.is_empty():
		return _finish("bad_response", "stream header: no channel names")
	var seen := {}
	for name in names:
		if not name is String or name.is_empty() or seen.has(name):
			return _finish("bad_response", "stream header: empty or duplicate channel name")
		seen[name] = true
	var fps := float(part.get("fps", 0.0))
	if fps <= 0.0:
		return _finish("bad_response", "stream header: fps must be > 0")
	has_header = true
	channel_names = PackedStringArray(names)
	var events: Array[Dictionary] = [
		{
			"kind": "header",
			"channel_names": channel_names,
			"fps": fps,
			"lookahead_ms": float(part.get("lookaheadMs", 0.0)),
		}
	]
	return events


func _on_frames(part: Dictionary) -> Array[Dictionary]:
	var first: Variant = part.get("firstFrame")
	var count: Variant = part.get("frameCount")
	var values: Variant = part.get("values")
	if not (first is float or first is int) or not (count is float or count is int):
		return _finish("bad_response", "frames: firstFrame or frameCount missing")
	if not values is Array:
		return _finish("bad_response", "frames: values missing")
	for value in values:
		if not (value is float or value is int):
			return _finish("bad_response", "frames: values holds a non-number")
	if int(first) != frames_received:
		return _finish(
			"bad_response",
			"frames: batch starts at frame %d, expected %d" % [int(first), frames_received]
		)
	if values.size() != int(count) * channel_names.size():
		return _finish("bad_response", "frames: values do not match frameCount x channels")
	frames_received += int(count)
	var events: Array[Dictionary] = [
		{
			"kind": "frames",
			"first_frame": int(first),
			"frame_count": int(count),
			"values": PackedFloat32Array(values),
		}
	]
	return events


func _finish(code: String, message: String) -> Array[Dictionary]:
	var events: Array[Dictionary] = []
	if finished:
		return events
	finished = true
	events.append({"kind": "finished", "code": code, "message": message})
	return events
