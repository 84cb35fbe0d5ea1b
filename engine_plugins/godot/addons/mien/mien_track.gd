@tool
class_name MienTrack
extends RefCounted
## Per-frame facial curves of one line (a mien.v1 AnimationTrack), as sent by the sidecar.
##
## Values are frame-major: [code]values[frame * channel_count() + channel][/code]. Channel names
## always come from the response; nothing here knows a rig. Streaming tracks grow with
## [method append_frames] while they play. Sampling is the GDScript twin of the plugin core's
## SampleFrames (C++), checked against tests/cases/track_sample.json.

## Suffix of channels that are rotations in degrees (eyes, head), not blend shapes.
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


## Starts an empty streamed track from a stream's header event.
static func from_stream_header(names: PackedStringArray, header_fps: float) -> MienTrack:
	var track := MienTrack.new()
	track.channel_names = names
	track.fps = header_fps
	track.mode = "neural"
	track.complete = false
	return track


## "" when the track is consistent, else what is wrong.
func validate() -> String:
	if channel_names.is_empty():
		return "no channel names"
	var seen := {}
	for channel_name in channel_names:
		if channel_name.is_empty():
			return "empty channel name"
		if seen.has(channel_name):
			return "duplicate channel name %s" % channel_name
		seen[channel_name] = true
	if fps <= 0.0:
		return "fps must be > 0"
	if values.size() != frame_count * channel_names.size():
		return (
			"values has %d entries, expected frameCount %d x %d channels"
			% [values.size(), frame_count, channel_names.size()]
		)
	return ""


## Number of channels per frame.
func channel_count() -> int:
	return channel_names.size()


## Seconds covered by the frames so far (frame_count / fps).
func duration() -> float:
	return float(frame_count) / fps if fps > 0.0 else 0.0


## Appends a streamed batch. Returns false (and changes nothing) when the batch is not the next
## contiguous one or its size does not match.
func append_frames(first_frame: int, batch_count: int, batch_values: PackedFloat32Array) -> bool:
	if (
		first_frame != frame_count
		or batch_count < 0
		or batch_values.size() != batch_count * channel_count()
	):
		return false
	values.append_array(batch_values)
	frame_count += batch_count
	return true


## The curve values at [param time_s], linearly interpolated between frames; held at the first
## and last frame outside the track. Empty when the track has no frames yet.
func sample(time_s: float) -> PackedFloat32Array:
	var channels := channel_count()
	var out := PackedFloat32Array()
	if frame_count == 0 or channels == 0 or fps <= 0.0:
		return out
	out.resize(channels)
	var position := clampf(time_s * fps, 0.0, float(frame_count - 1))
	var frame_a := floori(position)
	var frame_b := mini(frame_a + 1, frame_count - 1)
	var weight := position - float(frame_a)
	var base_a := frame_a * channels
	var base_b := frame_b * channels
	for channel in channels:
		out[channel] = lerpf(values[base_a + channel], values[base_b + channel], weight)
	return out


## Builds an [Animation] with one blend-shape track per channel the mesh has.
## [param mesh_path] is the mesh's path relative to the AnimationMixer's root node; the track
## path is [code]<mesh_path>:<blend shape name>[/code]. [param binding] (from
## [method MienChannelMap.bind], or {} for none) renames and scales channels first. When
## [param mesh] is given, channels without a blend shape of that name (and rotation channels
## ending in "_deg") are left out and appended to [param skipped].
func to_animation(
	mesh_path: NodePath,
	mesh: MeshInstance3D = null,
	loop: bool = false,
	skipped: Array[String] = [],
	binding: Dictionary = {}
) -> Animation:
	var animation := Animation.new()
	animation.length = maxf(duration(), 1.0 / fps)
	animation.step = 1.0 / fps
	animation.loop_mode = Animation.LOOP_LINEAR if loop else Animation.LOOP_NONE
	var names: PackedStringArray = binding.get("names", channel_names)
	var frames := []
	for frame in frame_count:
		var row := values.slice(frame * channel_count(), (frame + 1) * channel_count())
		frames.append(_apply_binding(binding, row))
	for channel in names.size():
		var channel_name := names[channel]
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
			var row: PackedFloat32Array = frames[frame]
			animation.blend_shape_track_insert_key(track_index, float(frame) / fps, row[channel])
	return animation


static func _apply_binding(binding: Dictionary, row: PackedFloat32Array) -> PackedFloat32Array:
	if binding.is_empty():
		return row
	var outputs: Array = binding["outputs"]
	var out := PackedFloat32Array()
	out.resize(outputs.size())
	for index in outputs.size():
		var output: Array = outputs[index]
		var value: float = output[2] + output[1] * row[output[0]]
		out[index] = clampf(value, output[4], output[5]) if output[3] else value
	return out
