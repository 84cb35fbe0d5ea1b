@tool
class_name MienConfig
extends RefCounted
## Where the runtime finds the sidecar and its token, and shared audio timing.
##
## The bearer token is a secret: it is never an exported property (it would be saved in .tscn
## files) nor a project setting (project.godot ships and is committed). The runtime takes it
## from, in order: [method set_token] (your game's own secure storage), the command line
## ([code]-- --mien-token=...[/code]), the [code]MIEN_TOKEN[/code] environment variable, and in
## debug builds only (runs from the editor) the per-user file the Mien dock writes from your
## Editor Settings ([constant EDITOR_TOKEN_FILE], in the user data folder, outside the project).

## Project setting with the gateway URL (not a secret).
const SETTING_SERVER_URL := "mien/runtime/server_url"
## Default gateway URL.
const DEFAULT_SERVER_URL := "http://127.0.0.1:8080"
## Per-user file with the editor's token, read by debug builds only.
const EDITOR_TOKEN_FILE := "user://mien/editor_token"
## Seconds between two reads of AudioServer.get_output_latency() (expensive on some drivers).
const LATENCY_REFRESH_S := 2.0

static var _token: String = ""
static var _latency_s: float = 0.0
static var _latency_read_msec: int = -1


## Sets the token for every Mien call of this process (e.g. from your launcher).
static func set_token(token: String) -> void:
	_token = token


## The token to send ("" = none); see the class description for the order.
static func resolve_token() -> String:
	if not _token.is_empty():
		return _token
	for argument in OS.get_cmdline_user_args():
		if argument.begins_with("--mien-token="):
			return argument.trim_prefix("--mien-token=")
	var from_env := OS.get_environment("MIEN_TOKEN")
	if not from_env.is_empty():
		return from_env
	if OS.is_debug_build() and FileAccess.file_exists(EDITOR_TOKEN_FILE):
		return FileAccess.get_file_as_string(EDITOR_TOKEN_FILE).strip_edges()
	return ""


## The gateway URL: [code]--mien-url=[/code], [code]MIEN_URL[/code], then the project setting
## [constant SETTING_SERVER_URL], then [constant DEFAULT_SERVER_URL].
static func resolve_server_url() -> String:
	for argument in OS.get_cmdline_user_args():
		if argument.begins_with("--mien-url="):
			return argument.trim_prefix("--mien-url=")
	var from_env := OS.get_environment("MIEN_URL")
	if not from_env.is_empty():
		return from_env
	return str(ProjectSettings.get_setting(SETTING_SERVER_URL, DEFAULT_SERVER_URL))


## AudioServer.get_output_latency(), read at most every [constant LATENCY_REFRESH_S] seconds
## for the whole process (the engine documents the call as expensive).
static func output_latency_s() -> float:
	var now := Time.get_ticks_msec()
	if _latency_read_msec < 0 or now - _latency_read_msec > LATENCY_REFRESH_S * 1000.0:
		_latency_s = AudioServer.get_output_latency()
		_latency_read_msec = now
	return _latency_s
