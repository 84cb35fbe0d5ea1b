@tool
class_name MienStream
extends RefCounted
## One StreamAnimate session over a [WebSocketPeer] (conformance/stream_animate.json).
##
## Client messages (JSON text frames): one [code]{"header": {...}}[/code], then
## [code]{"audio": {"data": <base64 PCM>, "emotionKeyframes": [...]}}[/code] chunks, then
## [code]{"end": {}}[/code]. Audio given to [method push] is cut into chunks by a [MienPacer]
## and sent at production pace, at most [member MienPacer.lead_s] ahead of real time, never all
## at once. Server messages are checked by a [MienStreamReceiver] (header, contiguous frame
## batches, end, status). Call [method poll] every frame; the signals are emitted from it.

## Emitted with the stream's track header.
signal header_received(channel_names: PackedStringArray, fps: float, lookahead_ms: float)
## Emitted for each batch of frames.
signal frames_received(first_frame: int, frame_count: int, values: PackedFloat32Array)
## Emitted when the server has sent all frames.
signal ended(frame_count: int, audio_duration_s: float)
## Emitted once when the session is over: ok, or the error (status, protocol or transport).
signal closed(result: ResultScript)

const Protocol := preload("res://addons/mien/core/mien_protocol.gd")
const Pacer := preload("res://addons/mien/core/mien_pacer.gd")
const Receiver := preload("res://addons/mien/core/mien_stream_receiver.gd")
const ResultScript := preload("res://addons/mien/mien_result.gd")
const ClientScript := preload("res://addons/mien/mien_client.gd")

## Bytes of the WebSocket receive buffer (a catch-up frame batch of a 174-channel rig is ~200 KB).
const INBOUND_BUFFER_BYTES := 1024 * 1024
## Bytes of the send buffer (the pacer keeps at most lead_s of audio in flight).
const OUTBOUND_BUFFER_BYTES := 1024 * 1024

## The pacer cutting and timing the audio (set by [method open]).
var pacer: Pacer = null
## The emotion of the line, for keyframes on chunks.
var emotion: Dictionary = {}

var _socket: WebSocketPeer = WebSocketPeer.new()
var _receiver := Receiver.new()
var _outgoing: Array[String] = []
var _first_chunk := true
var _done := false


## Opens the socket to [param server_url]'s StreamAnimate endpoint and queues
## [param header_message]. The token goes in the Authorization header (as [code]?token=[/code]
## on the web platform, where browsers cannot set WebSocket headers).
func open(
	server_url: String, token: String, header_message: Dictionary, line_pacer: Pacer
) -> Error:
	pacer = line_pacer
	var url := ClientScript.websocket_url(server_url, ClientScript.STREAM_ANIMATE_PATH)
	if not token.is_empty():
		if OS.has_feature("web"):
			url += "?token=" + token.uri_encode()
		else:
			_socket.handshake_headers = PackedStringArray(["Authorization: Bearer %s" % token])
	_socket.inbound_buffer_size = INBOUND_BUFFER_BYTES
	_socket.outbound_buffer_size = OUTBOUND_BUFFER_BYTES
	_outgoing.append(JSON.stringify(header_message))
	var error := _socket.connect_to_url(url)
	if error != OK:
		_done = true
	return error


## Adds produced PCM in the header's encoding (sent by the pacer from [method poll]).
func push(pcm: PackedByteArray) -> void:
	if pacer != null:
		pacer.push(pcm)


## No more audio: the rest goes out, then the end message.
func finish() -> void:
	if pacer != null:
		pacer.finish()


## True until the session has closed.
func is_active() -> bool:
	return not _done


## Closes the socket (the server frees the stream's state at once); emits closed(cancelled).
func close() -> void:
	if _done:
		return
	_socket.close(1000, "client closed")
	_emit(_receiver.abort("cancelled", "stream closed by the client"))


## Sends what the pacer allows at [param now_s] (seconds, any monotonic clock), receives server
## messages and emits the signals.
func poll(now_s: float) -> void:
	if _done:
		return
	_socket.poll()
	var state := _socket.get_ready_state()
	if state == WebSocketPeer.STATE_OPEN:
		if not _receiver.connected:
			_receiver.on_connected()
		if pacer != null:
			for item in pacer.poll(now_s):
				if item.has("end"):
					_outgoing.append(JSON.stringify(Protocol.stream_end()))
					continue
				var keyframes := Protocol.keyframes_in_chunk(
					emotion, item["audio_start_s"], item["audio_end_s"], _first_chunk
				)
				_first_chunk = false
				_outgoing.append(JSON.stringify(Protocol.stream_audio(item["data"], keyframes)))
		_flush()
		while not _done and _socket.get_available_packet_count() > 0:
			_emit(_receiver.on_message(_socket.get_packet().get_string_from_utf8()))
	elif state == WebSocketPeer.STATE_CLOSED:
		_emit(_receiver.on_closed(_socket.get_close_code(), _socket.get_close_reason()))


func _flush() -> void:
	while not _outgoing.is_empty():
		# A full send buffer makes send_text fail with ERR_OUT_OF_MEMORY *and* print an engine
		# error, so the room is checked first; the message waits for a later poll.
		var size := _outgoing[0].to_utf8_buffer().size()
		var buffered := _socket.get_current_outbound_buffered_amount()
		if buffered > 0 and buffered + size > OUTBOUND_BUFFER_BYTES:
			return
		var error := _socket.send_text(_outgoing[0])
		if error != OK:
			_socket.close(1011, "send failed")
			_emit(_receiver.abort("transport_error", "send failed: %s" % error_string(error)))
			return
		_outgoing.pop_front()


func _emit(events: Array[Dictionary]) -> void:
	for event in events:
		match event["kind"]:
			"header":
				header_received.emit(event["channel_names"], event["fps"], event["lookahead_ms"])
			"frames":
				frames_received.emit(event["first_frame"], event["frame_count"], event["values"])
			"end":
				ended.emit(event["frame_count"], event["audio_duration_s"])
			"finished":
				_done = true
				_outgoing.clear()
				if event["code"] == "ok":
					_socket.close(1000, "done")
					closed.emit(ResultScript.success())
				else:
					if _socket.get_ready_state() != WebSocketPeer.STATE_CLOSED:
						_socket.close(1000, "done")
					closed.emit(ResultScript.failure(event["code"], event["message"]))
