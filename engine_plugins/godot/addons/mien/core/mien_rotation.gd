@tool
class_name MienRotation
extends RefCounted
## Rotation channels found by name in any track: "<part><Yaw|Pitch|Roll><side>_deg", e.g.
## eyeYawLeft_deg (group eyeLeft), headPitch_deg (group head); no channel list is hard-coded.
## The GDScript twin of the plugin core's FindRotationGroups / QuatFromYawPitchRoll, checked
## against tests/cases/rotation.json.

const AXES: PackedStringArray = ["Yaw", "Pitch", "Roll"]


## {"group", "axis"} of a rotation channel name; {} for other names.
static func parse_channel(channel_name: String) -> Dictionary:
	if not channel_name.ends_with("_deg") or channel_name.length() <= 4:
		return {}
	var stem := channel_name.substr(0, channel_name.length() - 4)
	var best := -1
	var best_axis := ""
	for axis in AXES:
		var found := stem.find(axis, 1)
		if found >= 0 and (best < 0 or found < best):
			best = found
			best_axis = axis
	if best < 0:
		return {}
	return {
		"group": stem.substr(0, best) + stem.substr(best + best_axis.length()), "axis": best_axis
	}


## Every rotation group of [param names], in order of first appearance: an Array of
## {"group", "yaw", "pitch", "roll"} with channel indices (-1 = absent).
static func find_groups(names: PackedStringArray) -> Array[Dictionary]:
	var groups: Array[Dictionary] = []
	for index in names.size():
		var parsed := parse_channel(names[index])
		if parsed.is_empty():
			continue
		var group: Dictionary = {}
		for existing in groups:
			if existing["group"] == parsed["group"]:
				group = existing
		if group.is_empty():
			group = {"group": parsed["group"], "yaw": -1, "pitch": -1, "roll": -1}
			groups.append(group)
		var key := str(parsed["axis"]).to_lower()
		if int(group[key]) < 0:
			group[key] = index
	return groups


## The rotation for yaw, pitch and roll in degrees about bone-local axes: yaw * pitch * roll.
static func quat_from_yaw_pitch_roll(
	yaw_deg: float,
	pitch_deg: float,
	roll_deg: float,
	yaw_axis: Vector3,
	pitch_axis: Vector3,
	roll_axis: Vector3
) -> Quaternion:
	return (
		_axis_angle(yaw_axis, yaw_deg)
		* _axis_angle(pitch_axis, pitch_deg)
		* _axis_angle(roll_axis, roll_deg)
	)


static func _axis_angle(axis: Vector3, angle_deg: float) -> Quaternion:
	if axis.length_squared() == 0.0:
		return Quaternion.IDENTITY
	return Quaternion(axis.normalized(), deg_to_rad(angle_deg))
