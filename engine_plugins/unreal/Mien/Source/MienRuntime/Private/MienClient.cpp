// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienClient.h"
#include "Containers/Ticker.h"
#include "HttpModule.h"
#include "Interfaces/IHttpRequest.h"
#include "Interfaces/IHttpResponse.h"
#include "MienCore/MienCorePacing.h"
#include "MienCore/MienCoreProtocol.h"
#include "MienCoreBridge.h"
#include "MienLog.h"
#include "MienSettings.h"

const TCHAR* UMienClient::AnimateLinePath = TEXT("/mien.v1.FaceAnimation/AnimateLine");
const TCHAR* UMienClient::DescribePath = TEXT("/mien.v1.FaceAnimation/Describe");
const TCHAR* UMienClient::StreamAnimatePath = TEXT("/mien.v1.FaceAnimation/StreamAnimate");
const TCHAR* UMienClient::HealthPath = TEXT("/healthz");

namespace
{
	std::string BodyText(const TArray<uint8>& Bytes)
	{
		return std::string(reinterpret_cast<const char*>(Bytes.GetData()), static_cast<size_t>(Bytes.Num()));
	}
}  // namespace

UMienClient::UMienClient()
{
	const UMienSettings* Settings = GetDefault<UMienSettings>();
	ServerUrl = Settings->GetEffectiveServerUrl();
	Token = UMienSettings::ResolveToken();
	TimeoutS = Settings->RequestTimeout;
	MaxAttempts = Settings->MaxAttempts;
	RetrySeed = FMath::Rand32();
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

void UMienClient::AnimateLine(const FMienLineRequest& Request, FMienTrackCallback Callback, bool bRetry)
{
	// Request bodies (built by the core, see MienCoreBridge.cpp): conformance/animate_line_file.json,
	// conformance/animate_line_pcm.json, conformance/animate_line_npc_auto.json, conformance/animate_line_idle.json
	Send(TEXT("POST"), AnimateLinePath, MienBridge::ToWire(MienBridge::BuildAnimateLineBody(Request)), bRetry,
		[Callback](const FMienResult& Result, const TArray<uint8>& Body)
		{
			FMienTrack Track;
			if (!Result.bOk)
			{
				Callback.ExecuteIfBound(Result, Track);
				return;
			}
			MienCore::FDecodedTrack Decoded;
			std::string Problem;
			if (!MienCore::DecodeAnimationTrackText(BodyText(Body), Decoded, Problem))
			{
				Callback.ExecuteIfBound(
					FMienResult::Failure(TEXT("bad_response"), MienBridge::FromUtf8(Problem), Result.HttpStatus),
					Track);
				return;
			}
			MienBridge::ToUnrealTrack(Decoded, Track);
			Callback.ExecuteIfBound(Result, Track);
		});
}

void UMienClient::Describe(FMienServiceInfoCallback Callback, bool bRetry)
{
	// Describe request: conformance/describe.json
	Send(TEXT("POST"), DescribePath, TEXT("{}"), bRetry,
		[Callback](const FMienResult& Result, const TArray<uint8>& Body)
		{
			FMienServiceInfo Info;
			if (!Result.bOk)
			{
				Callback.ExecuteIfBound(Result, Info);
				return;
			}
			MienCore::FServiceInfo Decoded;
			std::string Problem;
			if (!MienCore::DecodeServiceInfoText(BodyText(Body), Decoded, Problem))
			{
				Callback.ExecuteIfBound(
					FMienResult::Failure(TEXT("bad_response"), MienBridge::FromUtf8(Problem), Result.HttpStatus), Info);
				return;
			}
			MienBridge::ToUnrealServiceInfo(Decoded, Info);
			Callback.ExecuteIfBound(Result, Info);
		});
}

void UMienClient::Health(FMienResultCallback Callback)
{
	// Health check: conformance/healthz.json
	Send(TEXT("GET"), HealthPath, FString(), false,
		[Callback](const FMienResult& Result, const TArray<uint8>&)
		{
			Callback.ExecuteIfBound(Result);
		});
}

void UMienClient::Send(const FString& Verb, const FString& Path, const FString& Body, bool bRetry, FDone OnDone)
{
	SendAttempt(Verb, Path, Body, bRetry, 1, MoveTemp(OnDone));
}

void UMienClient::SendAttempt(
	const FString& Verb, const FString& Path, const FString& Body, bool bRetry, int32 Attempt, FDone OnDone)
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
	const TWeakObjectPtr<UMienClient> WeakThis(this);
	// Since UE 5.x a request that cannot start (ProcessRequest() == false) also completes through this delegate
	// (FHttpRequestCommon::PreProcess -> FinishRequestNotInHttpManager), synchronously on the game thread or later:
	// whichever of the two reports first wins, so OnDone (and a retry) happens once.
	const TSharedRef<bool> bReported = MakeShared<bool>(false);
	Request->OnProcessRequestComplete().BindLambda(
		[WeakThis, Verb, Path, Body, bRetry, Attempt, OnDone, Url, Timeout, bReported](
			FHttpRequestPtr HttpRequest, FHttpResponsePtr Response, bool bConnectedSuccessfully)
		{
			if (*bReported)
			{
				return;
			}
			*bReported = true;
			FMienResult Result = FMienResult::Success();
			TArray<uint8> Content;
			if (!bConnectedSuccessfully || !Response.IsValid())
			{
				const bool bTimedOut =
					Timeout > 0.f && HttpRequest.IsValid() && HttpRequest->GetElapsedTime() >= Timeout;
				Result = bTimedOut
					? FMienResult::Failure(
						  TEXT("timeout"), FString::Printf(TEXT("%s did not answer in %.0f s"), *Url, Timeout))
					: FMienResult::Failure(TEXT("transport_error"), FString::Printf(TEXT("cannot reach %s"), *Url));
			}
			else
			{
				const int32 Status = Response->GetResponseCode();
				Content = Response->GetContent();
				Result = FMienResult::Success(Status);
				if (Status != 200)
				{
					// Error responses: conformance/animate_line_invalid.json
					MienCore::FFailure Failure = MienCore::DecodeErrorBody(Status, BodyText(Content));
					if (Status == 503 && Failure.Code == "bad_response")
					{
						Failure = MienCore::FFailure{"unavailable", "HTTP 503"};
					}
					Result = MienBridge::ToResult(Failure, Status);
				}
			}
			UMienClient* This = WeakThis.Get();
			MienCore::FRetryPolicy Policy;
			Policy.MaxAttempts = This != nullptr ? This->MaxAttempts : 1;
			if (!Result.bOk && bRetry && This != nullptr &&
				MienCore::ShouldRetry(Policy, MienBridge::ToUtf8(Result.Code), Attempt))
			{
				const float Delay = static_cast<float>(MienCore::RetryDelayS(Policy, Attempt, This->RetrySeed));
				UE_LOG(LogMien, Warning, TEXT("%s: %s; retry in %.1f s"), *Url, *Result.ToString(), Delay);
				FTSTicker::GetCoreTicker().AddTicker(FTickerDelegate::CreateLambda(
														 [WeakThis, Verb, Path, Body, Attempt, OnDone](float)
														 {
															 if (UMienClient* Client = WeakThis.Get())
															 {
																 Client->SendAttempt(
																	 Verb, Path, Body, true, Attempt + 1, OnDone);
															 }
															 return false;
														 }),
					Delay);
				return;
			}
			if (!Result.bOk)
			{
				UE_LOG(LogMien, Warning, TEXT("%s -> %s"), *Url, *Result.ToString());
			}
			OnDone(Result, Content);
		});
	if (!Request->ProcessRequest() && !*bReported)
	{
		*bReported = true;
		OnDone(FMienResult::Failure(TEXT("transport_error"), FString::Printf(TEXT("cannot send %s"), *Url)),
			TArray<uint8>());
	}
}
