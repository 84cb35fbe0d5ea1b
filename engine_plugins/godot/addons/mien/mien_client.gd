@tool
class_name MienClient
extends Node
## HTTP/JSON client of the Mien sidecar gateway (unary RPCs, Connect style).
##
## Each call creates its own [HTTPRequest] child, so calls may overlap. Every call is a coroutine
## returning a [MienResult]: [code]var result := await client.animate_line(body)[/code]. Calls
## that fail because the sidecar is unreachable, busy or restarting (transport_error, timeout,
## unavailable, resource_exhausted, deadline_exceeded) are retried with exponential back-off and
## jitter ([member retry_policy], [method MienPacer.retry_delay_s]); others fail at once. The
## exact requests are recorded in [code]conformance/*.json[/code] and replayed against a live
## gateway by the project's tests.

const Protocol := preload("res://addons/mien/core/mien_protocol.gd")
const Pacer := preload("res://addons/mien/core/mien_pacer.gd")
const ResultScript := preload("res://addons/mien/mien_result.gd")

## Path of the unary AnimateLine RPC.
const ANIMATE_LINE_PATH := "/mien.v1.FaceAnimation/AnimateLine"
## Path of the unary Describe RPC.
const DESCRIBE_PATH := "/mien.v1.FaceAnimation/Describe"
## Path of the WebSocket StreamAnimate RPC.
const STREAM_ANIMATE_PATH := "/mien.v1.FaceAnimation/StreamAnimate"
## Path of the health check.
const HEALTH_PATH := "/healthz"

## Base URL of the gateway, e.g. [code]http://127.0.0.1:8080[/code].
var server_url: String = "http://127.0.0.1:8080"
## Bearer token ("" = none); sent as [code]Authorization: Bearer <token>[/code]. Never stored.
var token: String = ""
## Seconds before a request fails with [code]timeout[/code] (0 = no timeout).
var timeout_s: float = 30.0
## Back-off of retried calls: base_delay_s, factor, max_delay_s, jitter, max_attempts.
var retry_policy: Dictionary = {
	"base_delay_s": 0.5, "factor": 2.0, "max_delay_s": 8.0, "jitter": 0.2, "max_attempts": 4
}
## Varies the jitter between clients so NPCs do not retry in lockstep.
var retry_seed: int = randi() & 0x7FFFFFFF


## The WebSocket URL of [param path] for [param base_url] (http -> ws, https -> wss).
static func websocket_url(base_url: String, path: String) -> String:
	var base := base_url.strip_edges().trim_suffix("/")
	if base.begins_with("https://"):
		base = "wss://" + base.substr(8)
	elif base.begins_with("http://"):
		base = "ws://" + base.substr(7)
	return base + path


## HTTP headers of every request.
func request_headers() -> PackedStringArray:
	var headers := PackedStringArray(["Content-Type: application/json"])
	if not token.is_empty():
		headers.append("Authorization: Bearer %s" % token)
	return headers


## Unary AnimateLine (conformance/animate_line_*.json): the track in [member MienResult.track].
func animate_line(body: Dictionary, retry: bool = true) -> ResultScript:
	var result := await _call(
		ANIMATE_LINE_PATH, HTTPClient.METHOD_POST, JSON.stringify(body), retry
	)
	if not result.ok:
		return result
	var decoded := Protocol.decode_track(result.data)
	if decoded.has("problem"):
		return ResultScript.failure("bad_response", decoded["problem"], result.http_status)
	return ResultScript.success(decoded["track"], {}, result.http_status)


## Describe (conformance/describe.json): [member MienResult.data] is the decoded service info
## (rigs with their channels, emotions, modes, limits; see
## [method MienProtocol.decode_service_info]).
func describe(retry: bool = false) -> ResultScript:
	var result := await _call(DESCRIBE_PATH, HTTPClient.METHOD_POST, "{}", retry)
	if not result.ok:
		return result
	var decoded := Protocol.decode_service_info(result.data)
	if decoded.has("problem"):
		return ResultScript.failure("bad_response", decoded["problem"], result.http_status)
	return ResultScript.success(null, decoded["info"], result.http_status)


## GET /healthz (conformance/healthz.json): ok when the gateway answers 200.
func health() -> ResultScript:
	return await _call(HEALTH_PATH, HTTPClient.METHOD_GET, "", false, false)


func _call(
	path: String, method: HTTPClient.Method, body_text: String, retry: bool, expect_json := true
) -> ResultScript:
	var attempt := 1
	while true:
		var result := await _request(path, method, body_text, expect_json)
		if result.ok or not retry or not Pacer.should_retry(retry_policy, result.code, attempt):
			return result
		if not is_inside_tree():
			return result
		var delay := Pacer.retry_delay_s(retry_policy, attempt, retry_seed)
		push_warning("Mien: %s failed (%s); retry in %.1f s" % [path, result, delay])
		await get_tree().create_timer(delay, true, false, true).timeout
		attempt += 1
	return ResultScript.failure("cancelled", "unreachable")


func _request(
	path: String, method: HTTPClient.Method, body_text: String, expect_json: bool
) -> ResultScript:
	if not is_inside_tree():
		return ResultScript.failure("transport_error", "MienClient is not in the scene tree")
	var http := HTTPRequest.new()
	http.timeout = timeout_s
	add_child(http)
	var url := server_url.strip_edges().trim_suffix("/") + path
	var error := http.request(url, request_headers(), method, body_text)
	if error != OK:
		http.queue_free()
		return ResultScript.failure(
			"transport_error", "cannot send %s: %s" % [url, error_string(error)]
		)
	var response: Array = await http.request_completed
	http.queue_free()
	return _response_result(url, response, expect_json)


func _response_result(url: String, response: Array, expect_json: bool) -> ResultScript:
	var outcome: int = response[0]
	var status: int = response[1]
	var body: PackedByteArray = response[3]
	if outcome == HTTPRequest.RESULT_TIMEOUT:
		return ResultScript.failure("timeout", "%s did not answer within %s s" % [url, timeout_s])
	if outcome != HTTPRequest.RESULT_SUCCESS:
		return ResultScript.failure(
			"transport_error", "%s failed (HTTPRequest result %d)" % [url, outcome]
		)
	var text := body.get_string_from_utf8()
	if status != 200:
		var failure := Protocol.decode_error_body(status, text)
		if status == 503 and failure["code"] == "bad_response":
			failure = {"code": "unavailable", "message": "HTTP 503"}
		return ResultScript.failure(failure["code"], failure["message"], status)
	if not expect_json:
		return ResultScript.success(null, {"body": text}, status)
	var parsed: Variant = JSON.parse_string(text)
	if not parsed is Dictionary:
		return ResultScript.failure(
			"bad_response", "%s: response is not a JSON object" % url, status
		)
	return ResultScript.success(null, parsed, status)
