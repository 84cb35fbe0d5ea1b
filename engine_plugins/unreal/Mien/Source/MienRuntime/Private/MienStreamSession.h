// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include "CoreMinimal.h"
#include "MienCore/MienCorePacing.h"
#include "MienCore/MienCoreProtocol.h"
#include "MienTypes.h"

#include <memory>

class IWebSocket;

/**
 * One StreamAnimate session over WebSocket (conformance/stream_animate.json). Audio given to Push is cut into
 * chunks by the core's FChunkPacer and sent from Tick at production pace, at most LeadS ahead of real time
 * (never the whole clip at once); server messages are checked by the core's FStreamReceiver (header,
 * contiguous frame batches, end, status). IWebSocket events arrive on the game thread.
 */
class FMienStreamSession : public TSharedFromThis<FMienStreamSession>
{
public:
	DECLARE_DELEGATE_TwoParams(FOnHeader, const FMienTrack&, float /*LookaheadMs*/);
	DECLARE_DELEGATE_ThreeParams(FOnFrames, int32, int32, const TArray<float>&);
	DECLARE_DELEGATE_TwoParams(FOnEnd, int32, float);
	DECLARE_DELEGATE_OneParam(FOnClosed, const FMienResult&);

	FOnHeader OnHeader;
	FOnFrames OnFrames;
	FOnEnd OnEnd;
	FOnClosed OnClosed;

	~FMienStreamSession();

	/** Connects and queues the header message. The token goes in the Authorization upgrade header. */
	void Open(const FString& ServerUrl, const FString& Token, const FString& HeaderMessage,
		const MienCore::FPacerConfig& PacerConfig, const MienCore::FEmotion& Emotion);

	/** Adds produced PCM in the header's encoding; Tick sends it as the pacer allows. */
	void Push(const uint8* Data, int32 Size);

	/** No more audio: the rest goes out, then the end message. */
	void Finish();

	/** Sends what the pacer allows at NowS (seconds, any monotonic clock). Call every frame. */
	void Tick(double NowS);

	/** Closes the socket; OnClosed is not called afterwards. */
	void Close();

	bool IsActive() const { return !bDone; }
	bool IsFinishedPushing() const { return Pacer != nullptr && Pacer->IsFinished(); }
	int64 BytesPushed() const { return Pacer != nullptr ? Pacer->BytesPushed() : 0; }
	int64 BytesSent() const { return Pacer != nullptr ? Pacer->BytesSent() : 0; }
	int32 ChunkBytes() const { return Pacer != nullptr ? Pacer->ChunkBytes() : 0; }

private:
	void HandleEvents(const std::vector<MienCore::FStreamEvent>& Events);
	void SendText(const FString& Text);

	TSharedPtr<IWebSocket> Socket;
	TArray<FString> Outgoing;
	std::unique_ptr<MienCore::FChunkPacer> Pacer;
	MienCore::FStreamReceiver Receiver;
	MienCore::FEmotion Emotion;
	bool bFirstChunk = true;
	bool bDone = false;
};
