// Copyright Mien developers. Licensed under the Apache License, Version 2.0.

#include "MienCore/MienCoreJson.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace MienCore
{
	FJson FJson::MakeBool(bool bValue)
	{
		FJson Value;
		Value.Type = EKind::Bool;
		Value.bBool = bValue;
		return Value;
	}

	FJson FJson::MakeNumber(double InNumber)
	{
		FJson Value;
		Value.Type = EKind::Number;
		Value.Number = InNumber;
		return Value;
	}

	FJson FJson::MakeFloat(float InNumber)
	{
		FJson Value = MakeNumber(static_cast<double>(InNumber));
		Value.bFloat = true;
		return Value;
	}

	FJson FJson::MakeString(std::string InText)
	{
		FJson Value;
		Value.Type = EKind::String;
		Value.Text = std::move(InText);
		return Value;
	}

	FJson FJson::MakeArray()
	{
		FJson Value;
		Value.Type = EKind::Array;
		return Value;
	}

	FJson FJson::MakeObject()
	{
		FJson Value;
		Value.Type = EKind::Object;
		return Value;
	}

	const FJson* FJson::Find(const std::string& Key) const
	{
		if (Type != EKind::Object)
		{
			return nullptr;
		}
		for (const std::pair<std::string, FJson>& Member : ObjectMembers)
		{
			if (Member.first == Key)
			{
				return &Member.second;
			}
		}
		return nullptr;
	}

	FJson& FJson::Add(FJson Value)
	{
		ArrayItems.push_back(std::move(Value));
		return ArrayItems.back();
	}

	FJson& FJson::Set(const std::string& Key, FJson Value)
	{
		for (std::pair<std::string, FJson>& Member : ObjectMembers)
		{
			if (Member.first == Key)
			{
				Member.second = std::move(Value);
				return Member.second;
			}
		}
		ObjectMembers.emplace_back(Key, std::move(Value));
		return ObjectMembers.back().second;
	}

	std::string FormatDouble(double Value)
	{
		if (!std::isfinite(Value))
		{
			return "0";
		}
		char Buffer[40];
		if (std::fabs(Value) < 1e15 && std::floor(Value) == Value)
		{
			std::snprintf(Buffer, sizeof(Buffer), "%.0f", Value);
			return Buffer;
		}
		for (int Precision = 1; Precision <= 17; ++Precision)
		{
			std::snprintf(Buffer, sizeof(Buffer), "%.*g", Precision, Value);
			if (std::strtod(Buffer, nullptr) == Value)
			{
				break;
			}
		}
		return Buffer;
	}

	std::string FormatFloat(float Value)
	{
		if (!std::isfinite(Value))
		{
			return "0";
		}
		if (std::fabs(Value) < 1e7f && std::floor(Value) == Value)
		{
			return FormatDouble(static_cast<double>(Value));
		}
		char Buffer[40];
		for (int Precision = 1; Precision <= 9; ++Precision)
		{
			std::snprintf(Buffer, sizeof(Buffer), "%.*g", Precision, static_cast<double>(Value));
			if (static_cast<float>(std::strtod(Buffer, nullptr)) == Value)
			{
				break;
			}
		}
		return Buffer;
	}

	namespace JsonDetail
	{
		void WriteString(const std::string& Text, std::string& Out)
		{
			static const char* Hex = "0123456789abcdef";
			Out.push_back('"');
			for (const char Char : Text)
			{
				const unsigned char Byte = static_cast<unsigned char>(Char);
				switch (Char)
				{
					case '"':
						Out += "\\\"";
						break;
					case '\\':
						Out += "\\\\";
						break;
					case '\n':
						Out += "\\n";
						break;
					case '\r':
						Out += "\\r";
						break;
					case '\t':
						Out += "\\t";
						break;
					default:
						if (Byte < 0x20)
						{
							Out += "\\u00";
							Out.push_back(Hex[Byte >> 4]);
							Out.push_back(Hex[Byte & 15]);
						}
						else
						{
							Out.push_back(Char);
						}
				}
			}
			Out.push_back('"');
		}

		/** Recursive-descent parser over a UTF-8 buffer. */
		class FParser
		{
		public:
			FParser(const std::string& InText, int InMaxDepth)
				: Text(InText)
				, MaxDepth(InMaxDepth)
			{
			}

			bool ParseDocument(FJson& Out, std::string& OutError)
			{
				SkipSpace();
				if (!ParseValue(Out, 0))
				{
					OutError = Error;
					return false;
				}
				SkipSpace();
				if (Pos != Text.size())
				{
					OutError = "unexpected text after the JSON value at offset " + std::to_string(Pos);
					return false;
				}
				return true;
			}

		private:
			const std::string& Text;
			int MaxDepth;
			size_t Pos = 0;
			std::string Error;

			bool Fail(const std::string& What)
			{
				if (Error.empty())
				{
					Error = What + " at offset " + std::to_string(Pos);
				}
				return false;
			}

			void SkipSpace()
			{
				while (Pos < Text.size() &&
					(Text[Pos] == ' ' || Text[Pos] == '\t' || Text[Pos] == '\n' || Text[Pos] == '\r'))
				{
					++Pos;
				}
			}

			bool Literal(const char* Word)
			{
				size_t Length = 0;
				while (Word[Length] != '\0')
				{
					++Length;
				}
				if (Text.compare(Pos, Length, Word) != 0)
				{
					return Fail("invalid literal");
				}
				Pos += Length;
				return true;
			}

			bool ParseValue(FJson& Out, int Depth)
			{
				if (Pos >= Text.size())
				{
					return Fail("unexpected end of JSON");
				}
				const char Char = Text[Pos];
				if (Char == '{' || Char == '[')
				{
					if (Depth >= MaxDepth)
					{
						return Fail("JSON nested deeper than " + std::to_string(MaxDepth) + " levels");
					}
					return Char == '{' ? ParseObject(Out, Depth + 1) : ParseArray(Out, Depth + 1);
				}
				if (Char == '"')
				{
					std::string Value;
					if (!ParseString(Value))
					{
						return false;
					}
					Out = FJson::MakeString(std::move(Value));
					return true;
				}
				if (Char == 't')
				{
					Out = FJson::MakeBool(true);
					return Literal("true");
				}
				if (Char == 'f')
				{
					Out = FJson::MakeBool(false);
					return Literal("false");
				}
				if (Char == 'n')
				{
					Out = FJson();
					return Literal("null");
				}
				return ParseNumber(Out);
			}

			bool ParseNumber(FJson& Out)
			{
				const size_t Start = Pos;
				if (Pos < Text.size() && Text[Pos] == '-')
				{
					++Pos;
				}
				if (Pos >= Text.size() || Text[Pos] < '0' || Text[Pos] > '9')
				{
					return Fail("expected a value");
				}
				if (Text[Pos] == '0')
				{
					++Pos;
				}
				else
				{
					while (Pos < Text.size() && Text[Pos] >= '0' && Text[Pos] <= '9')
					{
						++Pos;
					}
				}
				if (Pos < Text.size() && Text[Pos] == '.')
				{
					++Pos;
					if (Pos >= Text.size() || Text[Pos] < '0' || Text[Pos] > '9')
					{
						return Fail("expected a digit after the decimal point");
					}
					while (Pos < Text.size() && Text[Pos] >= '0' && Text[Pos] <= '9')
					{
						++Pos;
					}
				}
				if (Pos < Text.size() && (Text[Pos] == 'e' || Text[Pos] == 'E'))
				{
					++Pos;
					if (Pos < Text.size() && (Text[Pos] == '+' || Text[Pos] == '-'))
					{
						++Pos;
					}
					if (Pos >= Text.size() || Text[Pos] < '0' || Text[Pos] > '9')
					{
						return Fail("expected a digit in the exponent");
					}
					while (Pos < Text.size() && Text[Pos] >= '0' && Text[Pos] <= '9')
					{
						++Pos;
					}
				}
				const std::string Token = Text.substr(Start, Pos - Start);
				Out = FJson::MakeNumber(std::strtod(Token.c_str(), nullptr));
				return true;
			}

			static int HexDigit(char Char)
			{
				if (Char >= '0' && Char <= '9')
				{
					return Char - '0';
				}
				if (Char >= 'a' && Char <= 'f')
				{
					return Char - 'a' + 10;
				}
				if (Char >= 'A' && Char <= 'F')
				{
					return Char - 'A' + 10;
				}
				return -1;
			}

			bool ReadHex4(uint32_t& Out)
			{
				if (Pos + 4 > Text.size())
				{
					return Fail("truncated \\u escape");
				}
				Out = 0;
				for (int Index = 0; Index < 4; ++Index)
				{
					const int Digit = HexDigit(Text[Pos + Index]);
					if (Digit < 0)
					{
						return Fail("invalid \\u escape");
					}
					Out = (Out << 4) | static_cast<uint32_t>(Digit);
				}
				Pos += 4;
				return true;
			}

			static void AppendUtf8(uint32_t Code, std::string& Out)
			{
				if (Code < 0x80)
				{
					Out.push_back(static_cast<char>(Code));
				}
				else if (Code < 0x800)
				{
					Out.push_back(static_cast<char>(0xC0 | (Code >> 6)));
					Out.push_back(static_cast<char>(0x80 | (Code & 0x3F)));
				}
				else if (Code < 0x10000)
				{
					Out.push_back(static_cast<char>(0xE0 | (Code >> 12)));
					Out.push_back(static_cast<char>(0x80 | ((Code >> 6) & 0x3F)));
					Out.push_back(static_cast<char>(0x80 | (Code & 0x3F)));
				}
				else
				{
					Out.push_back(static_cast<char>(0xF0 | (Code >> 18)));
					Out.push_back(static_cast<char>(0x80 | ((Code >> 12) & 0x3F)));
					Out.push_back(static_cast<char>(0x80 | ((Code >> 6) & 0x3F)));
					Out.push_back(static_cast<char>(0x80 | (Code & 0x3F)));
				}
			}

			bool ParseString(std::string& Out)
			{
				++Pos;  // opening quote
				while (Pos < Text.size())
				{
					const char Char = Text[Pos];
					if (Char == '"')
					{
						++Pos;
						return true;
					}
					if (static_cast<unsigned char>(Char) < 0x20)
					{
						return Fail("control character in a string");
					}
					if (Char != '\\')
					{
						Out.push_back(Char);
						++Pos;
						continue;
					}
					++Pos;
					if (Pos >= Text.size())
					{
						break;
					}
					const char Escape = Text[Pos++];
					switch (Escape)
					{
						case '"':
							Out.push_back('"');
							break;
						case '\\':
							Out.push_back('\\');
							break;
						case '/':
							Out.push_back('/');
							break;
						case 'b':
							Out.push_back('\b');
							break;
						case 'f':
							Out.push_back('\f');
							break;
						case 'n':
							Out.push_back('\n');
							break;
						case 'r':
							Out.push_back('\r');
							break;
						case 't':
							Out.push_back('\t');
							break;
						case 'u':
						{
							uint32_t Code = 0;
							if (!ReadHex4(Code))
							{
								return false;
							}
							if (Code >= 0xD800 && Code <= 0xDBFF && Pos + 1 < Text.size() && Text[Pos] == '\\' &&
								Text[Pos + 1] == 'u')
							{
								Pos += 2;
								uint32_t Low = 0;
								if (!ReadHex4(Low))
								{
									return false;
								}
								if (Low >= 0xDC00 && Low <= 0xDFFF)
								{
									Code = 0x10000 + ((Code - 0xD800) << 10) + (Low - 0xDC00);
								}
								else
								{
									AppendUtf8(0xFFFD, Out);
									Code = Low;
								}
							}
							if (Code >= 0xD800 && Code <= 0xDFFF)
							{
								Code = 0xFFFD;
							}
							AppendUtf8(Code, Out);
							break;
						}
						default:
							--Pos;
							return Fail("invalid escape in a string");
					}
				}
				return Fail("unterminated string");
			}

			bool ParseArray(FJson& Out, int Depth)
			{
				Out = FJson::MakeArray();
				++Pos;
				SkipSpace();
				if (Pos < Text.size() && Text[Pos] == ']')
				{
					++Pos;
					return true;
				}
				while (true)
				{
					SkipSpace();
					FJson Item;
					if (!ParseValue(Item, Depth))
					{
						return false;
					}
					Out.Add(std::move(Item));
					SkipSpace();
					if (Pos < Text.size() && Text[Pos] == ',')
					{
						++Pos;
						continue;
					}
					if (Pos < Text.size() && Text[Pos] == ']')
					{
						++Pos;
						return true;
					}
					return Fail("expected ',' or ']'");
				}
			}

			bool ParseObject(FJson& Out, int Depth)
			{
				Out = FJson::MakeObject();
				++Pos;
				SkipSpace();
				if (Pos < Text.size() && Text[Pos] == '}')
				{
					++Pos;
					return true;
				}
				while (true)
				{
					SkipSpace();
					if (Pos >= Text.size() || Text[Pos] != '"')
					{
						return Fail("expected a member name");
					}
					std::string Key;
					if (!ParseString(Key))
					{
						return false;
					}
					SkipSpace();
					if (Pos >= Text.size() || Text[Pos] != ':')
					{
						return Fail("expected ':'");
					}
					++Pos;
					SkipSpace();
					FJson Value;
					if (!ParseValue(Value, Depth))
					{
						return false;
					}
					Out.Set(Key, std::move(Value));
					SkipSpace();
					if (Pos < Text.size() && Text[Pos] == ',')
					{
						++Pos;
						continue;
					}
					if (Pos < Text.size() && Text[Pos] == '}')
					{
						++Pos;
						return true;
					}
					return Fail("expected ',' or '}'");
				}
			}
		};
	}  // namespace JsonDetail

	void FJson::SerializeTo(std::string& Out) const
	{
		switch (Type)
		{
			case EKind::Null:
				Out += "null";
				break;
			case EKind::Bool:
				Out += bBool ? "true" : "false";
				break;
			case EKind::Number:
				Out += bFloat ? FormatFloat(static_cast<float>(Number)) : FormatDouble(Number);
				break;
			case EKind::String:
				JsonDetail::WriteString(Text, Out);
				break;
			case EKind::Array:
			{
				Out.push_back('[');
				for (size_t Index = 0; Index < ArrayItems.size(); ++Index)
				{
					if (Index > 0)
					{
						Out.push_back(',');
					}
					ArrayItems[Index].SerializeTo(Out);
				}
				Out.push_back(']');
				break;
			}
			case EKind::Object:
			{
				Out.push_back('{');
				for (size_t Index = 0; Index < ObjectMembers.size(); ++Index)
				{
					if (Index > 0)
					{
						Out.push_back(',');
					}
					JsonDetail::WriteString(ObjectMembers[Index].first, Out);
					Out.push_back(':');
					ObjectMembers[Index].second.SerializeTo(Out);
				}
				Out.push_back('}');
				break;
			}
		}
	}

	std::string FJson::Serialize() const
	{
		std::string Out;
		SerializeTo(Out);
		return Out;
	}

	bool FJson::Parse(const std::string& Text, FJson& Out, std::string& OutError, int MaxDepth)
	{
		JsonDetail::FParser Parser(Text, MaxDepth);
		return Parser.ParseDocument(Out, OutError);
	}

	std::string Base64Encode(const uint8_t* Data, size_t Size)
	{
		static const char* Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		std::string Out;
		Out.reserve((Size + 2) / 3 * 4);
		size_t Index = 0;
		for (; Index + 2 < Size; Index += 3)
		{
			const uint32_t Triple = (static_cast<uint32_t>(Data[Index]) << 16) |
				(static_cast<uint32_t>(Data[Index + 1]) << 8) | Data[Index + 2];
			Out.push_back(Alphabet[(Triple >> 18) & 63]);
			Out.push_back(Alphabet[(Triple >> 12) & 63]);
			Out.push_back(Alphabet[(Triple >> 6) & 63]);
			Out.push_back(Alphabet[Triple & 63]);
		}
		if (Index < Size)
		{
			const bool bTwo = Index + 1 < Size;
			const uint32_t Triple =
				(static_cast<uint32_t>(Data[Index]) << 16) | (bTwo ? static_cast<uint32_t>(Data[Index + 1]) << 8 : 0u);
			Out.push_back(Alphabet[(Triple >> 18) & 63]);
			Out.push_back(Alphabet[(Triple >> 12) & 63]);
			Out.push_back(bTwo ? Alphabet[(Triple >> 6) & 63] : '=');
			Out.push_back('=');
		}
		return Out;
	}

	bool Base64Decode(const std::string& Text, std::vector<uint8_t>& Out)
	{
		Out.clear();
		uint32_t Buffer = 0;
		int Bits = 0;
		for (const char Char : Text)
		{
			int Value = -1;
			if (Char >= 'A' && Char <= 'Z')
			{
				Value = Char - 'A';
			}
			else if (Char >= 'a' && Char <= 'z')
			{
				Value = Char - 'a' + 26;
			}
			else if (Char >= '0' && Char <= '9')
			{
				Value = Char - '0' + 52;
			}
			else if (Char == '+' || Char == '-')
			{
				Value = 62;
			}
			else if (Char == '/' || Char == '_')
			{
				Value = 63;
			}
			else if (Char == '=')
			{
				break;
			}
			else
			{
				return false;
			}
			Buffer = (Buffer << 6) | static_cast<uint32_t>(Value);
			Bits += 6;
			if (Bits >= 8)
			{
				Bits -= 8;
				Out.push_back(static_cast<uint8_t>((Buffer >> Bits) & 0xFF));
			}
		}
		return true;
	}
}  // namespace MienCore
