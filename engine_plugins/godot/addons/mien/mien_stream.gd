@tool
class_name MienStream
extends RefCounted
## One StreamAnimate session over a [WebSocketPeer] (conformance/stream_animate.json).
##
## Client messages (JSON text frames): one [code]{"header": {...}}[/code], then
## [code]{"audio": {"data": <base64 PCM>, "emotionKeyframes": [...]}}[/code] chunks, then
## [code]{"end": {}}[/code]. Server messages: [code]header[/code] (channel names, fps,
## look-ahead), [code]frames[/code] batches, [code]end[/code], then [code]status[/code] and close.
## Audio queued before the socket is open is sent once it opens. Call [method poll] every frame
## (e.g. from [method Node._process]); signals are emitted from inside [method poll].

## Emitted with the stream's track header.
signal header_received(channel_names: PackedStringArray, fps: float, lookahead_ms: float)
## Emitted for each batch of frames.
signal frames_received(first_frame: int, frame_count: int, values: PackedFloat32Array)
## Emitted when the server has sent all frames.
signal ended(frame_count: int, audio_duration_s: float)
## Emitted once when the session is over: ok, or the error (status message or transport).
signal closed(result: MienResult)

## Bytes of the WebSocket receive/send buffers (frame batches can be large).
const BUFFER_BYTES := 4 * 1024 * 1024

## The track header received so far ({} before it arrives).
var header: Dictionary = {}

var _socket := WebSocketPeer.new()
var _outgoing: Array[String] = []
var _opened := false
var _done := false
var _status: Dictionary = {}


## Opens the socket to [param server_url]'s StreamAnimate endpoint and queues
## [code]{"header": header_message}[/code]. The token goes in the Authorization header, and in
## the [code]?token=[/code] query on the web platform (browsers cannot set WebSocket headers).
func open(server_url: String, token: String, header_message: Dictionary) -> Error:
	var url := MienClient.websocket_url(server_url, MienClient.STREAM_ANIMATE_PATH)
	if not token.is_empty():
		if OS.has_feature("web"):
			url += "?token=" + token.uri_encode()
		else:
			_socket.handshake_headers = PackedStringArray(["Authorization: Bearer %s" % token])
	_socket.inbound_buffer_size = BUFFER_BYTES
	_socket.outbound_buffer_size = BUFFER_BYTES
	_outgoing.append(JSON.stringify({"header": header_message}))
	return _socket.connect_to_url(url)


## Queues one chunk of PCM in the header's encoding, with optional emotion keyframes
## (mien.v1 EmotionKeyframe JSON, times from the first audio sample).
func send_audio(pcm_chunk: PackedByteArray, emotion_keyframes: Array = []) -> void:
	var audio := {"data": MienAudio.to_base64(pcm_chunk)}
	if not emotion_keyframes.is_empty():
		audio["emotionKeyframes"] = emotion_keyframes
	_send({"audio": audio})


## Queues the end of audio: the server flushes the remaining frames and ends the stream.
func end_audio() -> void:
	_send({"end": {}})


## True until the session has closed.
func is_active() -> bool:
	return not _done


## Closes the socket (the server frees the stream's state at once).
func close() -> void:
	if not _done:
		_socket.close(1000, "client closed")
		_finish(MienResult.failure("cancelled", "stream closed by the client"))


## Sends queued messages, receives server messages and emits the signals.
func poll() -> void:
	if _done:
		return
	_socket.poll()
	var state := _socket.get_ready_state()
	if state == WebSocketPeer.STATE_OPEN:
		_opened = true
		while not _outgoing.is_empty():
			var error := _socket.send_text(_outgoing.pop_front())
			if error != OK:
				_finish(
					MienResult.failure("transport_error", "send failed: %s" % error_string(error))
				)
				return
		while _socket.get_available_packet_count() > 0:
			_handle(_socket.get_packet().get_string_from_utf8())
			if _done:
				return
	elif state == WebSocketPeer.STATE_CLOSED:
		_on_socket_closed()


func _send(message: Dictionary) -> void:
	var text := JSON.stringify(message)
	if _opened and _socket.get_ready_state() == WebSocketPeer.STATE_OPEN:
		var error := _socket.send_text(text)
		if error != OK:
			_finish(MienResult.failure("transport_error", "send failed: %s" % error_string(error)))
	else:
		_outgoing.append(text)


func _handle(text: String) -> void:
	var parsed: Variant = JSON.parse_string(text)
	if not parsed is Dictionary:
		_finish(MienResult.failure("bad_response", "stream message is not a JSON object"))
		return
	var message: Dictionary = parsed
	if message.has("header"):
		header = message["header"]
		header_received.emit(
			PackedStringArray(header.get("channelNames", [])),
			float(header.get("fps", 60.0)),
			float(header.get("lookaheadMs", 0.0))
		)
	elif message.has("frames"):
		var frames: Dictionary = message["frames"]
		frames_received.emit(
			int(frames.get("firstFrame", 0)),
			int(frames.get("frameCount", 0)),
			PackedFloat32Array(frames.get("values", []))
		)
	elif message.has("end"):
		var end: Dictionary = message["end"]
		ended.emit(int(end.get("frameCount", 0)), float(end.get("audioDurationS", 0.0)))
	elif message.has("status"):
		_status = message["status"]
		var code := str(_status.get("code", ""))
		if code == "ok":
			_finish(MienResult.success())
		else:
			_finish(MienResult.failure(code, str(_status.get("message", ""))))


func _on_socket_closed() -> void:
	if not _status.is_empty():
		return
	var close_code := _socket.get_close_code()
	var reason := _socket.get_close_reason()
	var detail := (
		"closed before a status (code %d%s)"
		% [close_code, ", " + reason if not reason.is_empty() else ""]
	)
	var error_code := "transport_error" if not _opened else "bad_response"
	_finish(MienResult.failure(error_code, "StreamAnimate " + detail))


func _finish(result: MienResult) -> void:
	if _done:
		return
	_done = true
	if result.ok:
		_socket.close(1000, "done")
	closed.emit(result)
