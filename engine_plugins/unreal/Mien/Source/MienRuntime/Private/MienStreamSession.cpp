// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienStreamSession.h"
#include "IWebSocket.h"
#include "MienClient.h"
#include "MienJson.h"
#include "MienLog.h"
#include "WebSocketsModule.h"

FMienStreamSession::~FMienStreamSession()
{
	Close();
}

void FMienStreamSession::Open(
	const FString& ServerUrl, const FString& Token, const TSharedRef<FJsonObject>& HeaderMessage)
{
	const FString Url = UMienClient::WebSocketUrl(ServerUrl, UMienClient::StreamAnimatePath);
	TMap<FString, FString> Headers;
	if (!Token.IsEmpty())
	{
		Headers.Add(TEXT("Authorization"), TEXT("Bearer ") + Token);
	}
	Outgoing.Add(MienJson::ToString(HeaderMessage));
	Socket = FWebSocketsModule::Get().CreateWebSocket(Url, TArray<FString>(), Headers);
	const TWeakPtr<FMienStreamSession> WeakThis = AsShared();
	Socket->OnConnected().AddLambda(
		[WeakThis]()
		{
			if (const TSharedPtr<FMienStreamSession> This = WeakThis.Pin())
			{
				This->bOpen = true;
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
				This->Finish(FMienResult::Failure(
					TEXT("transport_error"), FString::Printf(TEXT("cannot connect to %s: %s"), *Url, *Error)));
			}
		});
	Socket->OnMessage().AddLambda(
		[WeakThis](const FString& Text)
		{
			if (const TSharedPtr<FMienStreamSession> This = WeakThis.Pin())
			{
				This->HandleMessage(Text);
			}
		});
	Socket->OnClosed().AddLambda(
		[WeakThis](int32 StatusCode, const FString& Reason, bool bWasClean)
		{
			const TSharedPtr<FMienStreamSession> This = WeakThis.Pin();
			if (This.IsValid() && !This->bGotStatus)
			{
				This->Finish(FMienResult::Failure(TEXT("transport_error"),
					FString::Printf(TEXT("StreamAnimate closed before a status (%d %s%s)"), StatusCode, *Reason,
						bWasClean ? TEXT("") : TEXT(", not clean"))));
			}
		});
	Socket->Connect();
}

void FMienStreamSession::SendAudio(const TArray<uint8>& PcmChunk, const TArray<TSharedPtr<FJsonValue>>& Keyframes)
{
	SendText(MienJson::ToString(MienJson::BuildStreamAudio(PcmChunk, Keyframes)));
}

void FMienStreamSession::EndAudio()
{
	TSharedRef<FJsonObject> Message = MakeShared<FJsonObject>();
	Message->SetObjectField(TEXT("end"), MakeShared<FJsonObject>());
	SendText(MienJson::ToString(Message));
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
		if (Socket->IsConnected())
		{
			Socket->Close(1000, TEXT("client closed"));
		}
		Socket.Reset();
	}
}

void FMienStreamSession::SendText(const FString& Text)
{
	if (bOpen && Socket.IsValid() && Socket->IsConnected())
	{
		Socket->Send(Text);
	}
	else
	{
		Outgoing.Add(Text);
	}
}

void FMienStreamSession::HandleMessage(const FString& Text)
{
	if (bDone)
	{
		return;
	}
	const TSharedPtr<FJsonObject> Message = MienJson::Parse(Text);
	if (!Message.IsValid())
	{
		Finish(FMienResult::Failure(TEXT("bad_response"), TEXT("stream message is not a JSON object")));
		return;
	}
	const TSharedPtr<FJsonObject>* Part = nullptr;
	if (Message->TryGetObjectField(TEXT("header"), Part))
	{
		FMienTrack Track;
		const TArray<TSharedPtr<FJsonValue>>* Names = nullptr;
		if ((*Part)->TryGetArrayField(TEXT("channelNames"), Names))
		{
			for (const TSharedPtr<FJsonValue>& Name : *Names)
			{
				Track.ChannelNames.Add(FName(*Name->AsString()));
			}
		}
		double Fps = 60.0;
		double LookaheadMs = 0.0;
		(*Part)->TryGetNumberField(TEXT("fps"), Fps);
		(*Part)->TryGetNumberField(TEXT("lookaheadMs"), LookaheadMs);
		Track.Fps = static_cast<float>(Fps);
		Track.Mode = TEXT("neural");
		Track.bComplete = false;
		UE_LOG(LogMien, Verbose, TEXT("stream header: %d channels at %.1f fps, look-ahead %.0f ms"),
			Track.ChannelNames.Num(), Fps, LookaheadMs);
		OnHeader.ExecuteIfBound(Track);
	}
	else if (Message->TryGetObjectField(TEXT("frames"), Part))
	{
		double FirstFrame = 0.0;
		double FrameCount = 0.0;
		double StartTimeS = 0.0;
		(*Part)->TryGetNumberField(TEXT("firstFrame"), FirstFrame);
		(*Part)->TryGetNumberField(TEXT("frameCount"), FrameCount);
		(*Part)->TryGetNumberField(TEXT("startTimeS"), StartTimeS);
		TArray<float> Values;
		const TArray<TSharedPtr<FJsonValue>>* RawValues = nullptr;
		if ((*Part)->TryGetArrayField(TEXT("values"), RawValues))
		{
			Values.Reserve(RawValues->Num());
			for (const TSharedPtr<FJsonValue>& Value : *RawValues)
			{
				Values.Add(static_cast<float>(Value->AsNumber()));
			}
		}
		UE_LOG(LogMien, VeryVerbose, TEXT("stream frames %d+%d at %.3f s"), static_cast<int32>(FirstFrame),
			static_cast<int32>(FrameCount), StartTimeS);
		OnFrames.ExecuteIfBound(static_cast<int32>(FirstFrame), static_cast<int32>(FrameCount), Values);
	}
	else if (Message->TryGetObjectField(TEXT("end"), Part))
	{
		double FrameCount = 0.0;
		double AudioDurationS = 0.0;
		(*Part)->TryGetNumberField(TEXT("frameCount"), FrameCount);
		(*Part)->TryGetNumberField(TEXT("audioDurationS"), AudioDurationS);
		OnEnd.ExecuteIfBound(static_cast<int32>(FrameCount), static_cast<float>(AudioDurationS));
	}
	else if (Message->TryGetObjectField(TEXT("status"), Part))
	{
		bGotStatus = true;
		FString Code;
		FString StatusMessage;
		(*Part)->TryGetStringField(TEXT("code"), Code);
		(*Part)->TryGetStringField(TEXT("message"), StatusMessage);
		Finish(Code == TEXT("ok") ? FMienResult::Success() : FMienResult::Failure(Code, StatusMessage));
	}
}

void FMienStreamSession::Finish(const FMienResult& Result)
{
	if (bDone)
	{
		return;
	}
	bDone = true;
	if (!Result.bOk)
	{
		UE_LOG(LogMien, Warning, TEXT("StreamAnimate: %s"), *Result.ToString());
	}
	OnClosed.ExecuteIfBound(Result);
	if (Socket.IsValid() && Socket->IsConnected())
	{
		Socket->Close(1000, TEXT("done"));
	}
}
