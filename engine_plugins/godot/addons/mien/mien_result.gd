@tool
class_name MienResult
extends RefCounted
## The outcome of one Mien request. The addon never raises: every call returns a [MienResult].
##
## [member ok] is true on success; then [member track] holds the animation (AnimateLine) or
## [member data] the parsed response (Describe, health). On failure [member code] is the
## gateway's error code ([code]invalid_argument[/code], [code]not_found[/code],
## [code]failed_precondition[/code], [code]resource_exhausted[/code],
## [code]deadline_exceeded[/code], [code]unauthenticated[/code], [code]internal[/code]) or one of
## the addon's own codes listed in [constant LOCAL_CODES], and [member message] says why.

const TrackScript := preload("res://addons/mien/mien_track.gd")

## Error codes produced by the addon itself (not by the sidecar).
const LOCAL_CODES: PackedStringArray = [
	"transport_error",
	"timeout",
	"bad_response",
	"unsupported_audio",
	"cancelled",
	"no_target",
	"unavailable",
]

## True when the request succeeded.
var ok: bool = false
## Error code ("" on success).
var code: String = ""
## Human-readable error message ("" on success).
var message: String = ""
## HTTP status of the response (0 when no response arrived, e.g. connection refused).
var http_status: int = 0
## The animation track (AnimateLine and streaming results); null otherwise.
var track: TrackScript = null
## The parsed JSON body of a successful non-track response (Describe, health).
var data: Dictionary = {}


## A successful result carrying [param result_track] and/or [param result_data].
static func success(
	result_track: TrackScript = null, result_data: Dictionary = {}, status: int = 200
) -> MienResult:
	var result := MienResult.new()
	result.ok = true
	result.track = result_track
	result.data = result_data
	result.http_status = status
	return result


## A failed result with an error [param error_code] and [param error_message].
static func failure(error_code: String, error_message: String, status: int = 0) -> MienResult:
	var result := MienResult.new()
	result.ok = false
	result.code = error_code
	result.message = error_message
	result.http_status = status
	return result


## Parses a gateway error body ([code]{"code": "...", "message": "..."}[/code]) into a failure
## (the error response recorded in conformance/animate_line_invalid.json).
static func from_error_body(status: int, body_text: String) -> MienResult:
	var parsed: Variant = JSON.parse_string(body_text)
	if parsed is Dictionary:
		var body: Dictionary = parsed
		var error_code: String = str(body.get("code", ""))
		var error_message: String = str(body.get("message", ""))
		if not error_code.is_empty():
			return failure(error_code, error_message, status)
	return failure("bad_response", "HTTP %d with an unparsable error body" % status, status)


func _to_string() -> String:
	if ok:
		return "MienResult(ok)"
	return "MienResult(%s: %s)" % [code, message]
