@tool
extends EditorPlugin
## Registers the Mien dock (bake lines, sidecar status) and the addon's project setting. Every
## addon script refers to the others through preload() constants, never through global
## class_name identifiers, so the plugin loads on a fresh clone before the editor has built its
## global class cache (Godot 4.2 failed there otherwise).

const DockScene := preload("res://addons/mien/mien_dock.tscn")
const ConfigScript := preload("res://addons/mien/mien_config.gd")

var _dock: Control = null


func _enter_tree() -> void:
	if not ProjectSettings.has_setting(ConfigScript.SETTING_SERVER_URL):
		ProjectSettings.set_setting(
			ConfigScript.SETTING_SERVER_URL, ConfigScript.DEFAULT_SERVER_URL
		)
	ProjectSettings.set_initial_value(
		ConfigScript.SETTING_SERVER_URL, ConfigScript.DEFAULT_SERVER_URL
	)
	ProjectSettings.add_property_info(
		{"name": ConfigScript.SETTING_SERVER_URL, "type": TYPE_STRING, "hint": PROPERTY_HINT_NONE}
	)
	_dock = DockScene.instantiate()
	add_control_to_dock(DOCK_SLOT_RIGHT_UL, _dock)


func _exit_tree() -> void:
	if _dock != null:
		_dock.call(&"shutdown")
		remove_control_from_docks(_dock)
		_dock.queue_free()
		_dock = null
