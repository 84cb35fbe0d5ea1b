@tool
extends VBoxContainer
## The Mien editor dock: bake facial animation for audio files into [Animation] resources.
##
## Flow: set the server (Check fills the rig and emotion lists from Describe), add .wav/.ogg/.mp3
## files, pick the emotion, select the face [MeshInstance3D] (and optionally the
## [AnimationPlayer]) in the open scene, then Generate. Each file's transcript is read from a
## .txt file beside it (same name) or taken from the text field. Every file becomes an Animation
## with blend-shape tracks ([code]<mesh path>:<blend shape>[/code]), saved beside the audio or
## added to an [AnimationLibrary].

##
## The dock also watches the sidecar: it polls /healthz every [constant HEALTH_PERIOD_S] seconds
## and shows the status; when the sidecar is not running and "Start the sidecar" is on, it
## starts [code]mien/sidecar/command[/code] (an Editor Setting, per user) with
## [method OS.create_process], reconnects (Describe again) when it comes back after a restart,
## and stops the process it started when the editor closes. The token lives in the Editor
## Settings only; the dock copies it to the per-user file runs from the editor read
## ([constant MienConfig.EDITOR_TOKEN_FILE]), never into the project.

## How generated animations are saved.
enum Output { TRES_BESIDE_AUDIO, RES_BESIDE_AUDIO, LIBRARY }

const ClientScript := preload("res://addons/mien/mien_client.gd")
const Protocol := preload("res://addons/mien/core/mien_protocol.gd")
const Pacer := preload("res://addons/mien/core/mien_pacer.gd")
const ConfigScript := preload("res://addons/mien/mien_config.gd")
const ChannelMapScript := preload("res://addons/mien/core/mien_channel_map.gd")

## EditorSettings key of the server URL.
const SETTING_URL := "mien/server_url"
## EditorSettings key of the token (per user, never in the project).
const SETTING_TOKEN := "mien/token"
## EditorSettings key of the command that starts the sidecar.
const SETTING_COMMAND := "mien/sidecar/command"
## EditorSettings key: start the sidecar when it is not running.
const SETTING_AUTOSTART := "mien/sidecar/autostart"
## Default server URL.
const DEFAULT_URL := "http://127.0.0.1:8080"
## Default sidecar command (the `mien` CLI on PATH).
const DEFAULT_COMMAND := "mien serve --http-port 8080"
## Seconds between health checks.
const HEALTH_PERIOD_S := 2.0
## Seconds a started sidecar gets to answer before the dock reports it failed.
const START_GRACE_S := 60.0

var _client: ClientScript
var _status_label: Label
var _command_edit: LineEdit
var _autostart_check: CheckBox
var _health_timer: Timer
var _sidecar_pid: int = -1
var _started_msec: int = 0
var _was_up := false
var _checking := false
var _map_edit: LineEdit
var _url_edit: LineEdit
var _token_edit: LineEdit
var _rig_option: OptionButton
var _emotion_option: OptionButton
var _intensity_spin: SpinBox
var _fps_spin: SpinBox
var _seed_spin: SpinBox
var _files_list: ItemList
var _use_txt_check: CheckBox
var _transcript_edit: TextEdit
var _mesh_label: Label
var _player_label: Label
var _output_option: OptionButton
var _library_edit: LineEdit
var _generate_button: Button
var _log: TextEdit
var _file_dialog: EditorFileDialog
var _mesh_node_path := NodePath()
var _player_node_path := NodePath()


func _ready() -> void:
	name = "Mien"
	_client = ClientScript.new()
	add_child(_client)
	_build_ui()
	_load_settings()
	_health_timer = Timer.new()
	_health_timer.wait_time = HEALTH_PERIOD_S
	_health_timer.timeout.connect(_poll_health)
	add_child(_health_timer)
	_health_timer.start()
	_poll_health()


## Called by the plugin when the editor closes: stops the sidecar this dock started.
func shutdown() -> void:
	if _sidecar_pid > 0 and OS.is_process_running(_sidecar_pid):
		OS.kill(_sidecar_pid)
	_sidecar_pid = -1


func _build_ui() -> void:
	_status_label = _make_label("Sidecar: checking…")
	add_child(_status_label)
	_url_edit = _add_line_edit("Server URL", DEFAULT_URL)
	_token_edit = _add_line_edit("Token", "")
	_token_edit.secret = true
	_command_edit = _add_line_edit("Command", DEFAULT_COMMAND)
	_command_edit.tooltip_text = "Starts the sidecar when it is not running (quotes group arguments)."
	_autostart_check = CheckBox.new()
	_autostart_check.text = "Start the sidecar when it is not running"
	_autostart_check.button_pressed = true
	add_child(_autostart_check)
	var sidecar_row := HBoxContainer.new()
	add_child(sidecar_row)
	sidecar_row.add_child(_make_button("Start sidecar", _start_sidecar))
	sidecar_row.add_child(_make_button("Stop sidecar", shutdown))
	var check := _add_button("Check server", _check_server)
	check.tooltip_text = "Describe: load the rigs and emotions the sidecar offers."
	_rig_option = _add_option("Rig", PackedStringArray(["arkit52"]))
	_emotion_option = _add_option("Emotion", PackedStringArray(["neutral"]))
	_intensity_spin = _add_spin("Intensity", 0.0, 1.0, 0.05, 0.8)
	_fps_spin = _add_spin("FPS", 1.0, 240.0, 1.0, 30.0)
	_seed_spin = _add_spin("Seed (-1 = unset)", -1.0, 2147483647.0, 1.0, -1.0)
	add_child(_make_label("Audio files (.wav .ogg .mp3)"))
	_files_list = ItemList.new()
	_files_list.custom_minimum_size = Vector2(0, 90)
	add_child(_files_list)
	var file_row := HBoxContainer.new()
	add_child(file_row)
	file_row.add_child(_make_button("Add…", _open_file_dialog))
	file_row.add_child(_make_button("Clear", _files_list.clear))
	_use_txt_check = CheckBox.new()
	_use_txt_check.text = "Transcript from .txt beside each audio file"
	_use_txt_check.button_pressed = true
	add_child(_use_txt_check)
	_transcript_edit = TextEdit.new()
	_transcript_edit.placeholder_text = "Transcript (used when there is no .txt)"
	_transcript_edit.custom_minimum_size = Vector2(0, 50)
	add_child(_transcript_edit)
	_add_button("Use selected MeshInstance3D", _pick_mesh)
	_mesh_label = _make_label("Face mesh: (none)")
	add_child(_mesh_label)
	_add_button("Use selected AnimationPlayer (optional)", _pick_player)
	_player_label = _make_label("AnimationPlayer: (scene root is the track root)")
	add_child(_player_label)
	_output_option = _add_option(
		"Save as",
		PackedStringArray([".tres beside audio", ".res beside audio", "AnimationLibrary"])
	)
	_library_edit = _add_line_edit("Library", "res://mien_lines.tres")
	_map_edit = _add_line_edit("Channel map", "")
	_map_edit.placeholder_text = "res://… MienChannelMap .tres (optional)"
	_generate_button = _add_button("Generate", _generate)
	_log = TextEdit.new()
	_log.editable = false
	_log.custom_minimum_size = Vector2(0, 120)
	add_child(_log)
	_file_dialog = EditorFileDialog.new()
	_file_dialog.file_mode = EditorFileDialog.FILE_MODE_OPEN_FILES
	_file_dialog.access = EditorFileDialog.ACCESS_RESOURCES
	_file_dialog.add_filter("*.wav, *.ogg, *.mp3", "Audio")
	_file_dialog.files_selected.connect(_on_files_selected)
	add_child(_file_dialog)


func _load_settings() -> void:
	var settings := EditorInterface.get_editor_settings()
	if settings.has_setting(SETTING_URL):
		_url_edit.text = str(settings.get_setting(SETTING_URL))
	if settings.has_setting(SETTING_TOKEN):
		_token_edit.text = str(settings.get_setting(SETTING_TOKEN))
	if settings.has_setting(SETTING_COMMAND):
		_command_edit.text = str(settings.get_setting(SETTING_COMMAND))
	if settings.has_setting(SETTING_AUTOSTART):
		_autostart_check.button_pressed = bool(settings.get_setting(SETTING_AUTOSTART))


func _save_settings() -> void:
	var settings := EditorInterface.get_editor_settings()
	settings.set_setting(SETTING_URL, _url_edit.text)
	settings.set_setting(SETTING_TOKEN, _token_edit.text)
	settings.set_setting(SETTING_COMMAND, _command_edit.text)
	settings.set_setting(SETTING_AUTOSTART, _autostart_check.button_pressed)
	_write_editor_token(_token_edit.text.strip_edges())


## Runs from the editor (debug builds) read the token from this per-user file.
func _write_editor_token(token: String) -> void:
	DirAccess.make_dir_recursive_absolute(ConfigScript.EDITOR_TOKEN_FILE.get_base_dir())
	var file := FileAccess.open(ConfigScript.EDITOR_TOKEN_FILE, FileAccess.WRITE)
	if file != null:
		file.store_string(token)
		file.close()


func _poll_health() -> void:
	if _checking or not is_inside_tree():
		return
	_checking = true
	_sync_client()
	var result := await _client.health()
	_checking = false
	var ours := _sidecar_pid > 0 and OS.is_process_running(_sidecar_pid)
	if result.ok:
		_status_label.text = (
			"Sidecar: running at %s%s"
			% [
				_client.server_url,
				" (started by the editor, pid %d)" % _sidecar_pid if ours else ""
			]
		)
		if not _was_up:
			_was_up = true
			_check_server()  # connected or reconnected after a restart: reload rigs and emotions
		return
	_was_up = false
	if ours and Time.get_ticks_msec() - _started_msec < START_GRACE_S * 1000.0:
		_status_label.text = "Sidecar: starting (pid %d)…" % _sidecar_pid
		return
	if _sidecar_pid > 0 and not ours:
		_status_label.text = (
			"Sidecar: the process the dock started exited (its output went to the terminal"
			+ " that runs the editor; run the command there to see why)"
		)
		_sidecar_pid = -1
	else:
		_status_label.text = "Sidecar: not reachable at %s (%s)" % [_client.server_url, result.code]
	if _autostart_check.button_pressed and _sidecar_pid < 0 and _is_local(_client.server_url):
		_start_sidecar()


func _is_local(url: String) -> bool:
	return url.contains("://127.0.0.1") or url.contains("://localhost") or url.contains("://[::1]")


func _start_sidecar() -> void:
	_save_settings()
	if _sidecar_pid > 0 and OS.is_process_running(_sidecar_pid):
		return
	var split := Pacer.split_command_line(_command_edit.text)
	if split.has("problem"):
		_write_log("Sidecar command: %s" % split["problem"])
		return
	var args: PackedStringArray = split["args"]
	var pid := OS.create_process(args[0], args.slice(1), false)
	if pid <= 0:
		_status_label.text = "Sidecar: cannot start %s (is it on PATH?)" % args[0]
		return
	_sidecar_pid = pid
	_started_msec = Time.get_ticks_msec()
	_status_label.text = "Sidecar: starting (pid %d)…" % pid
	_write_log("Started the sidecar: %s (pid %d)" % [" ".join(args), pid])


func _sync_client() -> void:
	_client.server_url = _url_edit.text.strip_edges()
	_client.token = _token_edit.text.strip_edges()


func _check_server() -> void:
	_sync_client()
	_save_settings()
	var result := await _client.describe()
	if not result.ok:
		_write_log("Server: %s" % result)
		return
	var rigs: PackedStringArray = result.data["rig_names"]
	var emotions: PackedStringArray = result.data["emotions"]
	_fill_option(_rig_option, rigs, str(result.data.get("default_rig", "arkit52")))
	_fill_option(_emotion_option, emotions, "neutral")
	_write_log("Server OK: %d rigs, %d emotions." % [rigs.size(), emotions.size()])


func _open_file_dialog() -> void:
	_file_dialog.popup_centered_ratio(0.6)


func _on_files_selected(paths: PackedStringArray) -> void:
	for path in paths:
		_files_list.add_item(path)


func _pick_mesh() -> void:
	var node := _selected_node_of("MeshInstance3D")
	if node == null:
		_write_log("Select a MeshInstance3D in the Scene dock first.")
		return
	_mesh_node_path = EditorInterface.get_edited_scene_root().get_path_to(node)
	_mesh_label.text = "Face mesh: %s" % _mesh_node_path


func _pick_player() -> void:
	var node := _selected_node_of("AnimationPlayer")
	if node == null:
		_write_log("Select an AnimationPlayer in the Scene dock first.")
		return
	_player_node_path = EditorInterface.get_edited_scene_root().get_path_to(node)
	_player_label.text = "AnimationPlayer: %s" % _player_node_path


func _selected_node_of(type_name: String) -> Node:
	for node in EditorInterface.get_selection().get_selected_nodes():
		if node.is_class(type_name):
			return node
	return null


## Path of the mesh relative to the animation's root node (the AnimationPlayer's root_node,
## or the edited scene root), as blend-shape track paths need it.
func _mesh_track_path(mesh: MeshInstance3D) -> NodePath:
	var scene_root := EditorInterface.get_edited_scene_root()
	var root: Node = scene_root
	if not _player_node_path.is_empty():
		var player := scene_root.get_node_or_null(_player_node_path) as AnimationPlayer
		if player != null:
			var player_root := player.get_node_or_null(player.root_node)
			if player_root != null:
				root = player_root
	return root.get_path_to(mesh)


func _generate() -> void:
	var scene_root := EditorInterface.get_edited_scene_root()
	var mesh: MeshInstance3D = null
	if scene_root != null and not _mesh_node_path.is_empty():
		mesh = scene_root.get_node_or_null(_mesh_node_path) as MeshInstance3D
	if mesh == null:
		_write_log("Pick the face MeshInstance3D of the open scene first.")
		return
	if _files_list.item_count == 0:
		_write_log("Add at least one audio file.")
		return
	_sync_client()
	_save_settings()
	_generate_button.disabled = true
	var track_path := _mesh_track_path(mesh)
	for index in _files_list.item_count:
		await _generate_one(_files_list.get_item_text(index), mesh, track_path)
	_generate_button.disabled = false
	EditorInterface.get_resource_filesystem().scan()


func _generate_one(audio_path: String, mesh: MeshInstance3D, track_path: NodePath) -> void:
	var audio_bytes := FileAccess.get_file_as_bytes(audio_path)
	if audio_bytes.is_empty():
		_write_log("%s: cannot read the file" % audio_path)
		return
	var emotion := {
		"category": _option_text(_emotion_option, "neutral"),
		"intensity": _intensity_spin.value,
	}
	var settings := {
		"fps": _fps_spin.value,
		"rig": _option_text(_rig_option, "arkit52"),
		"seed": int(_seed_spin.value),
	}
	var body := Protocol.animate_line_body(
		Protocol.file_audio(audio_bytes), _transcript_for(audio_path), emotion, settings
	)
	var result := await _client.animate_line(body)
	if not result.ok:
		_write_log("%s: %s" % [audio_path, result])
		return
	var binding := {}
	var map_path := _map_edit.text.strip_edges()
	if not map_path.is_empty():
		var map := load(map_path) as ChannelMapScript
		if map == null:
			_write_log("%s is not a MienChannelMap" % map_path)
			return
		binding = map.bind(result.track.channel_names)
	var skipped: Array[String] = []
	var animation := result.track.to_animation(track_path, mesh, false, skipped, binding)
	var saved := _save_animation(audio_path, animation)
	if saved.is_empty():
		return
	_write_log(
		(
			"%s -> %s (%d tracks, %d frames; no blend shape for %d channels%s)"
			% [
				audio_path.get_file(),
				saved,
				animation.get_track_count(),
				result.track.frame_count,
				skipped.size(),
				(
					"; warnings: " + ", ".join(result.track.warnings)
					if not result.track.warnings.is_empty()
					else ""
				)
			]
		)
	)


func _transcript_for(audio_path: String) -> String:
	var txt_path := audio_path.get_basename() + ".txt"
	if _use_txt_check.button_pressed and FileAccess.file_exists(txt_path):
		return FileAccess.get_file_as_string(txt_path).strip_edges()
	return _transcript_edit.text.strip_edges()


## Saves [param animation]; returns where, or "" after logging the error.
func _save_animation(audio_path: String, animation: Animation) -> String:
	var output: int = _output_option.selected
	if output == Output.LIBRARY:
		return _save_into_library(audio_path.get_file().get_basename(), animation)
	var extension := ".res" if output == Output.RES_BESIDE_AUDIO else ".tres"
	var out_path := audio_path.get_basename() + "_mien" + extension
	var error := ResourceSaver.save(animation, out_path)
	if error != OK:
		_write_log("%s: cannot save: %s" % [out_path, error_string(error)])
		return ""
	return out_path


func _save_into_library(animation_name: String, animation: Animation) -> String:
	var library_path := _library_edit.text.strip_edges()
	var library: AnimationLibrary = null
	if ResourceLoader.exists(library_path):
		library = load(library_path) as AnimationLibrary
	if library == null:
		library = AnimationLibrary.new()
	if library.has_animation(animation_name):
		library.remove_animation(animation_name)
	var error := library.add_animation(animation_name, animation)
	if error == OK:
		error = ResourceSaver.save(library, library_path)
	if error != OK:
		_write_log("%s: cannot save: %s" % [library_path, error_string(error)])
		return ""
	return "%s[%s]" % [library_path, animation_name]


func _fill_option(option: OptionButton, items: PackedStringArray, preferred: String) -> void:
	if items.is_empty():
		return
	var previous := _option_text(option, preferred)
	option.clear()
	for item in items:
		option.add_item(item)
	var wanted := items.find(previous)
	option.select(wanted if wanted >= 0 else maxi(items.find(preferred), 0))


func _option_text(option: OptionButton, fallback: String) -> String:
	if option.selected < 0:
		return fallback
	return option.get_item_text(option.selected)


func _write_log(line: String) -> void:
	_log.text += line + "\n"
	_log.scroll_vertical = _log.get_line_count()


func _make_label(text: String) -> Label:
	var label := Label.new()
	label.text = text
	label.autowrap_mode = TextServer.AUTOWRAP_WORD_SMART
	return label


func _make_button(text: String, callback: Callable) -> Button:
	var button := Button.new()
	button.text = text
	button.pressed.connect(callback)
	return button


func _add_button(text: String, callback: Callable) -> Button:
	var button := _make_button(text, callback)
	add_child(button)
	return button


func _add_row(caption: String, control: Control) -> void:
	var row := HBoxContainer.new()
	var label := Label.new()
	label.text = caption
	label.custom_minimum_size = Vector2(90, 0)
	control.size_flags_horizontal = Control.SIZE_EXPAND_FILL
	row.add_child(label)
	row.add_child(control)
	add_child(row)


func _add_line_edit(caption: String, text: String) -> LineEdit:
	var edit := LineEdit.new()
	edit.text = text
	_add_row(caption, edit)
	return edit


func _add_option(caption: String, items: PackedStringArray) -> OptionButton:
	var option := OptionButton.new()
	for item in items:
		option.add_item(item)
	_add_row(caption, option)
	return option


func _add_spin(
	caption: String, min_value: float, max_value: float, step: float, value: float
) -> SpinBox:
	var spin := SpinBox.new()
	spin.min_value = min_value
	spin.max_value = max_value
	spin.step = step
	spin.value = value
	_add_row(caption, spin)
	return spin
