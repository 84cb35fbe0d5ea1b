@tool
class_name MienChannelMap
extends Resource
## Per-character mapping of the sidecar's channels onto a rig, saved as a .tres and shared by
## every NPC with that face: rename, gain, offset and clamp per channel (a [MienChannelRule]
## each); channels no rule reads pass through under their own name unless
## [member pass_through_unmapped] is off. The GDScript twin of the plugin core's
## FChannelMapping, checked against tests/cases/channel_map.json.

const RuleScript := preload("res://addons/mien/core/mien_channel_rule.gd")

## The rules, in output order.
@export var rules: Array[RuleScript] = []
## Output channels no rule reads unchanged.
@export var pass_through_unmapped: bool = true


## A map from {"passThroughUnmapped": bool, "rules": [{"source", "target", ...}]}.
static func from_dictionary(spec: Dictionary) -> MienChannelMap:
	var map := MienChannelMap.new()
	map.pass_through_unmapped = bool(spec.get("passThroughUnmapped", true))
	for rule in spec.get("rules", []):
		map.rules.append(RuleScript.from_dictionary(rule))
	return map


## Problems of the map (empty source, a target written twice, clamp min > max), one per rule.
func validate() -> PackedStringArray:
	var problems := PackedStringArray()
	var targets := {}
	for index in rules.size():
		var rule := rules[index]
		var where := "rules[%d]" % index
		if rule == null or rule.source.is_empty():
			problems.append(
				where + ": source is empty (name a channel of the track, e.g. from Describe)"
			)
			continue
		var target := rule.target if not rule.target.is_empty() else rule.source
		if targets.has(target):
			problems.append(where + ": target %s is written by another rule" % target)
		targets[target] = true
		if rule.clamp_enabled and rule.clamp_min > rule.clamp_max:
			problems.append(where + ": clamp min is greater than clamp max")
	return problems


## Binds the map to a track's channel names: a dictionary with "names" (outputs),
## "missing" (sources the track lacks) and "outputs" (Array of [input index, gain, offset,
## clamp?, min, max]) for [method apply].
func bind(channels: PackedStringArray) -> Dictionary:
	var names := PackedStringArray()
	var outputs := []
	var missing := PackedStringArray()
	var read := {}
	var written := {}
	for rule in rules:
		if rule == null or rule.source.is_empty():
			continue
		var target := rule.target if not rule.target.is_empty() else rule.source
		var input := channels.find(rule.source)
		read[rule.source] = true
		if input < 0:
			missing.append(rule.source)
			continue
		if written.has(target):
			continue
		written[target] = true
		var clamped := rule.clamp_enabled and rule.clamp_min <= rule.clamp_max
		names.append(target)
		outputs.append([input, rule.gain, rule.offset, clamped, rule.clamp_min, rule.clamp_max])
	if pass_through_unmapped:
		for index in channels.size():
			var channel_name := channels[index]
			if read.has(channel_name) or written.has(channel_name):
				continue
			written[channel_name] = true
			names.append(channel_name)
			outputs.append([index, 1.0, 0.0, false, 0.0, 1.0])
	return {"names": names, "missing": missing, "outputs": outputs}


## Maps one frame with a binding from [method bind].
static func apply(binding: Dictionary, frame: PackedFloat32Array) -> PackedFloat32Array:
	var outputs: Array = binding["outputs"]
	var out := PackedFloat32Array()
	out.resize(outputs.size())
	for index in outputs.size():
		var output: Array = outputs[index]
		var value: float = output[2] + output[1] * frame[output[0]]
		if output[3]:
			value = clampf(value, output[4], output[5])
		out[index] = value
	return out


## The identity binding of [param channels] (no map).
static func identity(channels: PackedStringArray) -> Dictionary:
	return MienChannelMap.new().bind(channels)
