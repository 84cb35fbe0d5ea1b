// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienClient.h"
#include "HttpModule.h"
#include "Interfaces/IHttpRequest.h"
#include "Interfaces/IHttpResponse.h"
#include "MienJson.h"
#include "MienLog.h"
#include "MienSettings.h"

const TCHAR* UMienClient::AnimateLinePath = TEXT("/mien.v1.FaceAnimation/AnimateLine");
const TCHAR* UMienClient::DescribePath = TEXT("/mien.v1.FaceAnimation/Describe");
const TCHAR* UMienClient::StreamAnimatePath = TEXT("/mien.v1.FaceAnimation/StreamAnimate");
const TCHAR* UMienClient::HealthPath = TEXT("/healthz");

UMienClient::UMienClient()
{
	const UMienSettings* Settings = GetDefault<UMienSettings>();
	ServerUrl = Settings->ServerUrl;
	Token = Settings->GetEffectiveToken();
	TimeoutS = Settings->RequestTimeout;
}

FString UMienClient::WebSocketUrl(const FString& BaseUrl, const FString& Path)
{
	FString Base = BaseUrl.TrimStartAndEnd();
	Base.RemoveFromEnd(TEXT("/"));
	if (Base.StartsWith(TEXT("https://")))
	{
		Base = TEXT("wss://") + Base.RightChop(8);
	}
	else if (Base.StartsWith(TEXT("http://")))
	{
		Base = TEXT("ws://") + Base.RightChop(7);
	}
	return Base + Path;
}

void UMienClient::AnimateLine(const FMienLineRequest& Request, FMienTrackCallback Callback)
{
	// Request bodies: conformance/animate_line_file.json, conformance/animate_line_pcm.json,
	// conformance/animate_line_npc_auto.json, conformance/animate_line_idle.json (see MienJson.cpp).
	const FString Body = MienJson::ToString(MienJson::BuildAnimateLineBody(Request));
	Send(TEXT("POST"), AnimateLinePath, Body,
		[Callback](const FMienResult& Result, const FString& Text)
		{
			FMienTrack Track;
			if (!Result.bOk)
			{
				Callback.ExecuteIfBound(Result, Track);
				return;
			}
			const TSharedPtr<FJsonObject> Json = MienJson::Parse(Text);
			FString Problem = TEXT("response is not a JSON object");
			if (Json.IsValid() && MienJson::ParseTrack(*Json, Track, Problem))
			{
				Callback.ExecuteIfBound(Result, Track);
				return;
			}
			Callback.ExecuteIfBound(FMienResult::Failure(TEXT("bad_response"), Problem, Result.HttpStatus), Track);
		});
}

void UMienClient::Describe(FMienServiceInfoCallback Callback)
{
	// Describe request: conformance/describe.json
	Send(TEXT("POST"), DescribePath, TEXT("{}"),
		[Callback](const FMienResult& Result, const FString& Text)
		{
			FMienServiceInfo Info;
			if (!Result.bOk)
			{
				Callback.ExecuteIfBound(Result, Info);
				return;
			}
			const TSharedPtr<FJsonObject> Json = MienJson::Parse(Text);
			FString Problem = TEXT("response is not a JSON object");
			if (Json.IsValid() && MienJson::ParseServiceInfo(*Json, Info, Problem))
			{
				Callback.ExecuteIfBound(Result, Info);
				return;
			}
			Callback.ExecuteIfBound(FMienResult::Failure(TEXT("bad_response"), Problem, Result.HttpStatus), Info);
		});
}

void UMienClient::Health(FMienResultCallback Callback)
{
	// Health check: conformance/healthz.json
	Send(TEXT("GET"), HealthPath, FString(),
		[Callback](const FMienResult& Result, const FString&)
		{
			Callback.ExecuteIfBound(Result);
		});
}

void UMienClient::Send(const FString& Verb, const FString& Path, const FString& Body,
	TFunction<void(const FMienResult&, const FString&)> OnDone)
{
	FString Url = ServerUrl.TrimStartAndEnd();
	Url.RemoveFromEnd(TEXT("/"));
	Url += Path;
	const TSharedRef<IHttpRequest, ESPMode::ThreadSafe> Request = FHttpModule::Get().CreateRequest();
	Request->SetURL(Url);
	Request->SetVerb(Verb);
	if (!Token.IsEmpty())
	{
		Request->SetHeader(TEXT("Authorization"), TEXT("Bearer ") + Token);
	}
	if (Verb == TEXT("POST"))
	{
		Request->SetHeader(TEXT("Content-Type"), TEXT("application/json"));
		Request->SetContentAsString(Body);
	}
	if (TimeoutS > 0.f)
	{
		Request->SetTimeout(TimeoutS);
	}
	const float Timeout = TimeoutS;
	Request->OnProcessRequestComplete().BindLambda(
		[OnDone, Url, Timeout](FHttpRequestPtr HttpRequest, FHttpResponsePtr Response, bool bConnectedSuccessfully)
		{
			if (!bConnectedSuccessfully || !Response.IsValid())
			{
				const bool bTimedOut =
					Timeout > 0.f && HttpRequest.IsValid() && HttpRequest->GetElapsedTime() >= Timeout;
				const FMienResult Failure = bTimedOut
					? FMienResult::Failure(
						  TEXT("timeout"), FString::Printf(TEXT("%s did not answer in %.0f s"), *Url, Timeout))
					: FMienResult::Failure(TEXT("transport_error"), FString::Printf(TEXT("cannot reach %s"), *Url));
				UE_LOG(LogMien, Warning, TEXT("%s"), *Failure.ToString());
				OnDone(Failure, FString());
				return;
			}
			const int32 Status = Response->GetResponseCode();
			const FString Text = Response->GetContentAsString();
			if (Status != 200)
			{
				const FMienResult Failure = MienJson::ParseError(Status, Text);
				UE_LOG(LogMien, Warning, TEXT("%s -> %s"), *Url, *Failure.ToString());
				OnDone(Failure, Text);
				return;
			}
			OnDone(FMienResult::Success(Status), Text);
		});
	if (!Request->ProcessRequest())
	{
		OnDone(FMienResult::Failure(TEXT("transport_error"), FString::Printf(TEXT("cannot send %s"), *Url)), FString());
	}
}
