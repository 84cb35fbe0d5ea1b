// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

/**
 * A small JSON document model (RFC 8259) for the mien.v1 proto3 JSON messages: parse with limits,
 * read by key, build, and serialize compactly. No exceptions, no engine types; strings are UTF-8.
 */
namespace MienCore
{
	class FJson
	{
	public:
		enum class EKind : uint8_t
		{
			Null,
			Bool,
			Number,
			String,
			Array,
			Object,
		};

		FJson() = default;
		static FJson MakeBool(bool bValue);
		/** A number serialized with the shortest text that reads back as the same double. */
		static FJson MakeNumber(double Value);
		/** A number that came from a 32-bit float: serialized with the shortest text of that float. */
		static FJson MakeFloat(float Value);
		static FJson MakeString(std::string Value);
		static FJson MakeArray();
		static FJson MakeObject();

		EKind Kind() const { return Type; }
		bool IsNull() const { return Type == EKind::Null; }
		bool IsBool() const { return Type == EKind::Bool; }
		bool IsNumber() const { return Type == EKind::Number; }
		bool IsString() const { return Type == EKind::String; }
		bool IsArray() const { return Type == EKind::Array; }
		bool IsObject() const { return Type == EKind::Object; }

		bool AsBool() const { return bBool; }
		double AsNumber() const { return Number; }
		const std::string& AsString() const { return Text; }
		const std::vector<FJson>& Items() const { return ArrayItems; }
		const std::vector<std::pair<std::string, FJson>>& Members() const { return ObjectMembers; }

		/** The member called Key of an object; nullptr when absent or when this is not an object. */
		const FJson* Find(const std::string& Key) const;

		/** Appends to an array. */
		FJson& Add(FJson Value);
		/** Sets (replaces or appends) an object member; returns the stored value. */
		FJson& Set(const std::string& Key, FJson Value);

		/** Compact serialization (no whitespace), members in insertion order. */
		std::string Serialize() const;
		void SerializeTo(std::string& Out) const;

		/**
		 * Parses Text (UTF-8). False with OutError (position and what was expected) on malformed
		 * input, more than MaxDepth nested containers, or trailing characters.
		 */
		static bool Parse(const std::string& Text, FJson& Out, std::string& OutError, int MaxDepth = 64);

	private:
		EKind Type = EKind::Null;
		bool bBool = false;
		bool bFloat = false;
		double Number = 0.0;
		std::string Text;
		std::vector<FJson> ArrayItems;
		std::vector<std::pair<std::string, FJson>> ObjectMembers;
	};

	/** Text of a double that reads back exactly (shortest of %.1g .. %.17g). */
	std::string FormatDouble(double Value);
	/** Text of a float that reads back exactly as that float (shortest of %.1g .. %.9g). */
	std::string FormatFloat(float Value);
	/** Standard base64 (RFC 4648, with padding), as proto3 JSON encodes bytes fields. */
	std::string Base64Encode(const uint8_t* Data, size_t Size);
	/** Decodes standard or URL-safe base64 (padding optional); false on other characters. */
	bool Base64Decode(const std::string& Text, std::vector<uint8_t>& Out);
}  // namespace MienCore
