// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienStreamSession.h"
#include "Containers/Ticker.h"
#include "IWebSocket.h"
#include "MienClient.h"
#include "MienCoreBridge.h"
#include "MienLog.h"
#include "WebSocketsModule.h"

FMienStreamSession::~FMienStreamSession()
{
	Close();
}

void FMienStreamSession::Open(const FString& ServerUrl, const FString& Token, const FString& HeaderMessage,
	const MienCore::FPacerConfig& PacerConfig, const MienCore::FEmotion& InEmotion)
{
	// StreamAnimate over WebSocket: conformance/stream_animate.json
	Pacer = std::make_unique<MienCore::FChunkPacer>(PacerConfig);
	Emotion = InEmotion;
	const FString Url = UMienClient::WebSocketUrl(ServerUrl, UMienClient::StreamAnimatePath);
	TMap<FString, FString> Headers;
	if (!Token.IsEmpty())
	{
		Headers.Add(TEXT("Authorization"), TEXT("Bearer ") + Token);
	}
	Outgoing.Add(HeaderMessage);
#if WITH_WEBSOCKETS
	// FWebSocketsModule::CreateWebSocket exists only on platforms WITH_WEBSOCKETS (WebSocketsModule.h).
	Socket = FWebSocketsModule::Get().CreateWebSocket(Url, TArray<FString>(), Headers);
#else
	// No WebSockets on this platform: Tick reports it (never from inside Open, whose caller still holds the session).
	return;
#endif
	const TWeakPtr<FMienStreamSession> WeakThis = AsShared();
	Socket->OnConnected().AddLambda(
		[WeakThis]()
		{
			if (const TSharedPtr<FMienStreamSession> This = WeakThis.Pin())
			{
				This->Receiver.OnConnected();
				for (const FString& Text : This->Outgoing)
				{
					This->Socket->Send(Text);
				}
				This->Outgoing.Reset();
			}
		});
	Socket->OnConnectionError().AddLambda(
		[WeakThis, Url](const FString& Error)
		{
			if (const TSharedPtr<FMienStreamSession> This = WeakThis.Pin())
			{
				std::vector<MienCore::FStreamEvent> Events;
				This->Receiver.Abort("transport_error",
					MienBridge::ToUtf8(FString::Printf(TEXT("cannot connect to %s: %s"), *Url, *Error)), Events);
				This->HandleEvents(Events);
			}
		});
	Socket->OnMessage().AddLambda(
		[WeakThis](const FString& Text)
		{
			if (const TSharedPtr<FMienStreamSession> This = WeakThis.Pin())
			{
				std::vector<MienCore::FStreamEvent> Events;
				This->Receiver.OnMessage(MienBridge::ToUtf8(Text), Events);
				This->HandleEvents(Events);
			}
		});
	Socket->OnClosed().AddLambda(
		[WeakThis](int32 StatusCode, const FString& Reason, bool /*bWasClean*/)
		{
			if (const TSharedPtr<FMienStreamSession> This = WeakThis.Pin())
			{
				std::vector<MienCore::FStreamEvent> Events;
				This->Receiver.OnClosed(StatusCode, MienBridge::ToUtf8(Reason), Events);
				This->HandleEvents(Events);
			}
		});
	Socket->Connect();
}

void FMienStreamSession::Push(const uint8* Data, int32 Size)
{
	if (Pacer != nullptr && Data != nullptr && Size > 0)
	{
		Pacer->Push(Data, static_cast<size_t>(Size));
	}
}

void FMienStreamSession::Finish()
{
	if (Pacer != nullptr)
	{
		Pacer->Finish();
	}
}

void FMienStreamSession::Tick(double NowS)
{
	if (!bDone && Pacer != nullptr && !Socket.IsValid())
	{
		std::vector<MienCore::FStreamEvent> Events;
		Receiver.Abort("failed_precondition", "WebSockets are not available on this platform: use AnimateLine", Events);
		HandleEvents(Events);
		return;
	}
	if (bDone || Pacer == nullptr || !Receiver.IsConnected())
	{
		return;
	}
	std::vector<MienCore::FPacedChunk> Chunks;
	bool bEnd = false;
	Pacer->Poll(NowS, Chunks, bEnd);
	for (const MienCore::FPacedChunk& Chunk : Chunks)
	{
		// Keyframes travel on the chunk covering their time (the first chunk also takes earlier ones).
		const std::vector<MienCore::FEmotionKeyframe> Keyframes =
			MienCore::KeyframesInChunk(Emotion, Chunk.AudioStartS, Chunk.AudioEndS, bFirstChunk);
		bFirstChunk = false;
		SendText(MienBridge::ToWire(MienCore::BuildStreamAudio(Chunk.Data.data(), Chunk.Data.size(), Keyframes)));
	}
	if (bEnd)
	{
		SendText(MienBridge::ToWire(MienCore::BuildStreamEnd()));
	}
}

void FMienStreamSession::Close()
{
	bDone = true;
	if (Socket.IsValid())
	{
		Socket->OnConnected().Clear();
		Socket->OnConnectionError().Clear();
		Socket->OnMessage().Clear();
		Socket->OnClosed().Clear();
		// Also while still connecting: the socket would otherwise connect later and hold a stream on the sidecar.
		Socket->Close(1000, TEXT("client closed"));
		// Close() often runs inside one of this socket's own event handlers (a line ends or fails on a message):
		// the last reference is dropped on the next core tick, not under the socket's feet.
		FTSTicker::GetCoreTicker().AddTicker(FTickerDelegate::CreateLambda(
			[Released = MoveTemp(Socket)](float)
			{
				static_cast<void>(Released);
				return false;
			}));
		Socket.Reset();
	}
}

void FMienStreamSession::SendText(const FString& Text)
{
	if (Socket.IsValid() && Socket->IsConnected())
	{
		Socket->Send(Text);
	}
	else
	{
		Outgoing.Add(Text);
	}
}

void FMienStreamSession::HandleEvents(const std::vector<MienCore::FStreamEvent>& Events)
{
	for (const MienCore::FStreamEvent& Event : Events)
	{
		switch (Event.Kind)
		{
			case MienCore::FStreamEvent::EKind::Header:
			{
				FMienTrack Track;
				for (const std::string& Name : Event.ChannelNames)
				{
					Track.ChannelNames.Add(FName(*MienBridge::FromUtf8(Name)));
				}
				Track.Fps = static_cast<float>(Event.Fps);
				Track.Mode = TEXT("neural");
				Track.bComplete = false;
				OnHeader.ExecuteIfBound(Track, static_cast<float>(Event.LookaheadMs));
				break;
			}
			case MienCore::FStreamEvent::EKind::Frames:
			{
				TArray<float> Values(Event.Values.data(), static_cast<int32>(Event.Values.size()));
				OnFrames.ExecuteIfBound(Event.FirstFrame, Event.FrameCount, Values);
				break;
			}
			case MienCore::FStreamEvent::EKind::End:
				OnEnd.ExecuteIfBound(Event.FrameCount, static_cast<float>(Event.AudioDurationS));
				break;
			case MienCore::FStreamEvent::EKind::Finished:
			default:
			{
				bDone = true;
				const FMienResult Result = Event.Code == "ok"
					? FMienResult::Success()
					: FMienResult::Failure(MienBridge::FromUtf8(Event.Code), MienBridge::FromUtf8(Event.Message));
				if (!Result.bOk)
				{
					UE_LOG(LogMien, Warning, TEXT("StreamAnimate: %s"), *Result.ToString());
				}
				if (Socket.IsValid() && Socket->IsConnected())
				{
					Socket->Close(1000, TEXT("done"));
				}
				OnClosed.ExecuteIfBound(Result);
				break;
			}
		}
	}
}
