@tool
class_name MienChannelRule
extends Resource
## One output of a [MienChannelMap]: [member target] = clamp([member offset] + [member gain] x
## [member source]). Sources are the sidecar's channel names (see Describe or the track).

## The sidecar channel read, e.g. jawOpen or headYaw_deg.
@export var source: String = ""
## The name written (blend shape / curve / rotation channel); "" keeps the source's name.
@export var target: String = ""
## Multiplier of the source value.
@export var gain: float = 1.0
## Added after the gain.
@export var offset: float = 0.0
## Clamp the result to [member clamp_min] .. [member clamp_max].
@export var clamp_enabled: bool = false
## Lower bound of the clamp.
@export var clamp_min: float = 0.0
## Upper bound of the clamp.
@export var clamp_max: float = 1.0


## A rule from a dictionary {"source", "target", "gain", "offset", "clamp": [lo, hi]}.
static func from_dictionary(spec: Dictionary) -> MienChannelRule:
	var rule := MienChannelRule.new()
	rule.source = str(spec.get("source", ""))
	rule.target = str(spec.get("target", ""))
	rule.gain = float(spec.get("gain", 1.0))
	rule.offset = float(spec.get("offset", 0.0))
	var bounds: Variant = spec.get("clamp")
	if bounds is Array and bounds.size() == 2:
		rule.clamp_enabled = true
		rule.clamp_min = float(bounds[0])
		rule.clamp_max = float(bounds[1])
	return rule
