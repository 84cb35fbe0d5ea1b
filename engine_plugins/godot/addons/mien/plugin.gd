@tool
extends EditorPlugin
## Registers the Mien dock. The runtime node [MienTalker] is a global class (class_name) and
## needs no registration.

const DockScene := preload("mien_dock.tscn")

var _dock: Control = null


func _enter_tree() -> void:
	_dock = DockScene.instantiate()
	add_control_to_dock(DOCK_SLOT_RIGHT_UL, _dock)


func _exit_tree() -> void:
	if _dock != null:
		remove_control_from_docks(_dock)
		_dock.queue_free()
		_dock = null
