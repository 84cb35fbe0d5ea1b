@tool
class_name MienTrack
extends RefCounted
## Per-frame facial curves of one line (a mien.v1 AnimationTrack), as sent by the sidecar.
##
## Values are frame-major: [code]values[frame * channel_count() + channel][/code]. Channel names
## always come from the response; nothing here knows a rig. Streaming tracks grow with
## [method append_frames] while they play.

## Suffix of channels that are eye rotations in degrees (not blend shapes).
const DEGREE_SUFFIX := "_deg"

## Ordered channel names (the rig profile's output names).
var channel_names: PackedStringArray = PackedStringArray()
## Frames per second; frame i is at time i / fps.
var fps: float = 60.0
## Number of frames received so far.
var frame_count: int = 0
## Frame-major curve values.
var values: PackedFloat32Array = PackedFloat32Array()
## Path the sidecar took: aligned, recognized, neural or idle.
var mode: String = ""
## Problems that did not fail the line.
var warnings: PackedStringArray = PackedStringArray()
## Length of the input audio in seconds.
var audio_duration_s: float = 0.0
## The seed used (uint64 as a decimal string).
var seed_used: String = "0"
## The rig profile used.
var rig: String = ""
## The request id (for logs).
var request_id: String = ""
## The emotion used, as category weights.
var emotion: Dictionary = {}
## The phone/viseme timeline: dictionaries with start_s, end_s, phone, word, viseme.
var phones: Array[Dictionary] = []
## True once a streamed track has received its end message (always true for unary tracks).
var complete: bool = true


## Parses the JSON body of an AnimateLine response. Returns a [MienResult] whose
## [member MienResult.track] is the track, or a [code]bad_response[/code] failure.
static func parse_animation_track(body: Dictionary) -> MienResult:
	var track := MienTrack.new()
	var names: Variant = body.get("channelNames")
	var raw_values: Variant = body.get("values")
	if not (names is Array) or not (raw_values is Array):
		return MienResult.failure("bad_response", "channelNames or values missing", 200)
	track.channel_names = PackedStringArray(names)
	track.fps = float(body.get("fps", 0.0))
	track.frame_count = int(body.get("frameCount", 0))
	track.values = PackedFloat32Array(raw_values)
	var metadata: Dictionary = body.get("metadata", {})
	track.mode = str(metadata.get("mode", ""))
	track.warnings = PackedStringArray(metadata.get("warnings", []))
	track.audio_duration_s = float(metadata.get("audioDurationS", 0.0))
	track.seed_used = str(metadata.get("seed", "0"))
	track.rig = str(metadata.get("rig", ""))
	track.request_id = str(metadata.get("requestId", ""))
	track.emotion = metadata.get("emotion", {})
	for phone in body.get("phones", []):
		if phone is Dictionary:
			track.phones.append(_phone_segment(phone))
	var problem := track.validate()
	if not problem.is_empty():
		return MienResult.failure("bad_response", problem, 200)
	return MienResult.success(track)


## Starts an empty streamed track from a stream's header message.
static func from_stream_header(header: Dictionary) -> MienTrack:
	var track := MienTrack.new()
	track.channel_names = PackedStringArray(header.get("channelNames", []))
	track.fps = float(header.get("fps", 60.0))
	track.mode = str(header.get("mode", "neural"))
	track.request_id = str(header.get("requestId", ""))
	track.complete = false
	return track


## A phone segment of the response in snake_case keys.
static func _phone_segment(segment: Dictionary) -> Dictionary:
	return {
		"start_s": float(segment.get("startS", 0.0)),
		"end_s": float(segment.get("endS", 0.0)),
		"phone": str(segment.get("phone", "")),
		"word": str(segment.get("word", "")),
		"viseme": str(segment.get("viseme", "")),
	}


## "" when the track is consistent, else what is wrong.
func validate() -> String:
	if channel_names.is_empty():
		return "no channel names"
	for channel_name in channel_names:
		if channel_name.is_empty():
			return "empty channel name"
	if fps <= 0.0:
		return "fps must be > 0, got %s" % fps
	if values.size() != frame_count * channel_names.size():
		return (
			"values has %d entries, expected frameCount %d x %d channels"
			% [values.size(), frame_count, channel_names.size()]
		)
	return ""


## Number of channels per frame.
func channel_count() -> int:
	return channel_names.size()


## Duration in seconds of the frames received so far.
func duration() -> float:
	return float(frame_count) / fps if fps > 0.0 else 0.0


## Appends a streamed batch. Returns false (and changes nothing) when the batch is not the next
## contiguous one or its size does not match.
func append_frames(first_frame: int, batch_count: int, batch_values: PackedFloat32Array) -> bool:
	if first_frame != frame_count or batch_values.size() != batch_count * channel_count():
		return false
	values.append_array(batch_values)
	frame_count += batch_count
	return true


## The curve values at [param time_s], linearly interpolated between frames; held at the first
## and last frame outside the track. Empty when the track has no frames yet.
func sample(time_s: float) -> PackedFloat32Array:
	var channels := channel_count()
	var out := PackedFloat32Array()
	if frame_count == 0 or channels == 0:
		return out
	out.resize(channels)
	var position := clampf(time_s * fps, 0.0, float(frame_count - 1))
	var frame_a := int(floor(position))
	var frame_b := mini(frame_a + 1, frame_count - 1)
	var weight := position - float(frame_a)
	var base_a := frame_a * channels
	var base_b := frame_b * channels
	for channel in channels:
		out[channel] = lerpf(values[base_a + channel], values[base_b + channel], weight)
	return out


## Builds an [Animation] with one blend-shape track per channel the mesh has.
## [param mesh_path] is the mesh's path relative to the AnimationPlayer's root node; the track
## path is [code]<mesh_path>:<blend shape name>[/code]. When [param mesh] is given, channels
## without a blend shape of that name (and eye-rotation channels ending in "_deg") are left out
## and appended to [param skipped] (an Array, filled in place); without a mesh every
## non-degree channel gets a track.
func to_animation(
	mesh_path: NodePath,
	mesh: MeshInstance3D = null,
	loop: bool = false,
	skipped: Array[String] = []
) -> Animation:
	var animation := Animation.new()
	animation.length = maxf(duration(), 1.0 / fps)
	animation.step = 1.0 / fps
	animation.loop_mode = Animation.LOOP_LINEAR if loop else Animation.LOOP_NONE
	var channels := channel_count()
	for channel in channels:
		var channel_name := channel_names[channel]
		if channel_name.ends_with(DEGREE_SUFFIX):
			skipped.append(channel_name)
			continue
		if mesh != null and mesh.find_blend_shape_by_name(StringName(channel_name)) < 0:
			skipped.append(channel_name)
			continue
		var track_index := animation.add_track(Animation.TYPE_BLEND_SHAPE)
		animation.track_set_path(track_index, NodePath("%s:%s" % [mesh_path, channel_name]))
		animation.track_set_interpolation_type(track_index, Animation.INTERPOLATION_LINEAR)
		for frame in frame_count:
			animation.blend_shape_track_insert_key(
				track_index, float(frame) / fps, values[frame * channels + channel]
			)
	return animation
