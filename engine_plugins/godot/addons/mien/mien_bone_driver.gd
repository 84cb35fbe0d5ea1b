@tool
class_name MienBoneDriver
extends SkeletonModifier3D
## Drives eye and head bones from a [MienTalker]'s rotation channels (Godot 4.3+).
##
## Add it as a child of the character's [Skeleton3D]. As a [SkeletonModifier3D] it runs after
## the [AnimationMixer] has posed the skeleton, so it layers over body animation; its
## [member SkeletonModifier3D.influence] blends it. Each entry of [member bones] names a
## rotation group of the track ("eyeLeft", "eyeRight", "head", ... found by name from channels
## like eyeYawLeft_deg and headPitch_deg; see [MienRotation]) and the bone it turns, with the
## bone-local axes of yaw (toward the character's left), pitch (up) and roll. Groups the track
## does not have leave their bones alone, so the same driver works before and after the sidecar
## adds head channels.

const TalkerScript := preload("res://addons/mien/mien_talker.gd")
const Rotation := preload("res://addons/mien/core/mien_rotation.gd")

## The talker whose channels are read.
@export var talker_path: NodePath
## One entry per driven bone: {"group": "eyeLeft", "bone": "LeftEye", "yaw_axis": Vector3.UP,
## "pitch_axis": Vector3.LEFT, "roll_axis": Vector3.FORWARD, "scale": 1.0}. The defaults are
## Godot's humanoid convention (+Y up, the character facing +Z); check your rig's bone axes.
@export var bones: Array[Dictionary] = [
	{"group": "eyeLeft", "bone": "LeftEye"},
	{"group": "eyeRight", "bone": "RightEye"},
	{"group": "head", "bone": "Head"},
]

var _talker: TalkerScript = null
var _bone_indices := PackedInt32Array()


func _ready() -> void:
	if Engine.is_editor_hint():
		return  # the talker is not a tool script: in the editor it has no methods to call
	_talker = get_node_or_null(talker_path) as TalkerScript
	_validate_bone_names()


func _validate_bone_names() -> void:
	_bone_indices.clear()
	var skeleton := get_skeleton()
	for entry in bones:
		var bone := -1
		if skeleton != null:
			bone = skeleton.find_bone(str(entry.get("bone", "")))
		_bone_indices.append(bone)


## Godot 4.3 and 4.4 call this ...
func _process_modification() -> void:
	_apply()


## ... and 4.5+ this (it replaces the former, which builds without deprecated APIs never call).
func _process_modification_with_delta(_delta: float) -> void:
	_apply()


func _apply() -> void:
	var skeleton := get_skeleton()
	if skeleton == null or _talker == null or Engine.is_editor_hint():
		return
	if _bone_indices.size() != bones.size():
		_validate_bone_names()
	var groups := _talker.get_rotation_groups()
	for index in bones.size():
		var bone := _bone_indices[index]
		var entry: Dictionary = bones[index]
		var group := str(entry.get("group", ""))
		if bone < 0 or not group in groups:
			continue
		var degrees := _talker.get_rotation_degrees(group) * float(entry.get("scale", 1.0))
		var turn := Rotation.quat_from_yaw_pitch_roll(
			degrees.x,
			degrees.y,
			degrees.z,
			entry.get("yaw_axis", Vector3.UP),
			entry.get("pitch_axis", Vector3.LEFT),
			entry.get("roll_axis", Vector3.FORWARD)
		)
		skeleton.set_bone_pose_rotation(bone, skeleton.get_bone_pose_rotation(bone) * turn)
