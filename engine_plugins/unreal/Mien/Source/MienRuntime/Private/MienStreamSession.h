// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "Dom/JsonObject.h"
#include "MienTypes.h"

class IWebSocket;

/**
 * One StreamAnimate session over WebSocket (conformance/stream_animate.json).
 * Sends {"header": ...}, {"audio": {"data": ...}} chunks and {"end": {}} as text frames; receives
 * header, frames batches, end and status. Messages queued before the socket opens are sent on connect.
 * IWebSocket events arrive on the game thread.
 */
class FMienStreamSession : public TSharedFromThis<FMienStreamSession>
{
public:
	DECLARE_DELEGATE_OneParam(FOnHeader, const FMienTrack&);
	DECLARE_DELEGATE_ThreeParams(FOnFrames, int32, int32, const TArray<float>&);
	DECLARE_DELEGATE_TwoParams(FOnEnd, int32, float);
	DECLARE_DELEGATE_OneParam(FOnClosed, const FMienResult&);

	FOnHeader OnHeader;
	FOnFrames OnFrames;
	FOnEnd OnEnd;
	FOnClosed OnClosed;

	~FMienStreamSession();

	/** Connects and queues the header message. The token goes in the Authorization upgrade header. */
	void Open(const FString& ServerUrl, const FString& Token, const TSharedRef<FJsonObject>& HeaderMessage);

	/** Queues one audio chunk with optional EmotionKeyframe JSON values. */
	void SendAudio(const TArray<uint8>& PcmChunk, const TArray<TSharedPtr<FJsonValue>>& Keyframes);

	/** Queues the end of audio. */
	void EndAudio();

	/** Closes the socket; OnClosed is not called afterwards. */
	void Close();

	bool IsActive() const { return !bDone; }

private:
	void SendText(const FString& Text);
	void HandleMessage(const FString& Text);
	void Finish(const FMienResult& Result);

	TSharedPtr<IWebSocket> Socket;
	TArray<FString> Outgoing;
	bool bOpen = false;
	bool bDone = false;
	bool bGotStatus = false;
};
