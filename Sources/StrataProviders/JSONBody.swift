import Foundation

/// A JSON value built in code and written compactly, object keys sorted so
/// the same value is always the same bytes. Request and response bodies are
/// made with it: Foundation's `JSONSerialization` bridges every value to an
/// `NSObject` and sorts keys through `AnyHashable`, which profiled as an
/// eighth of the CPU a zero-latency model call costs.
package enum JSONBody: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONBody])
    case object([String: JSONBody])
    /// JSON text written as it is: a schema the checker already read.
    case raw(String)

    /// The compact text's bytes.
    package var data: Data { Data(bytes) }

    /// The compact text's bytes, as an array.
    package var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        write(into: &bytes)
        return bytes
    }

    /// The compact text.
    package var text: String {
        var bytes: [UInt8] = []
        write(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    package func write(into bytes: inout [UInt8]) {
        switch self {
        case .null: bytes += "null".utf8
        case .bool(let value): bytes += (value ? "true" : "false").utf8
        case .int(let value): bytes += String(value).utf8
        case .double(let value): Self.write(value, into: &bytes)
        case .string(let value): Self.write(value, into: &bytes)
        case .raw(let text): bytes += text.utf8
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                value.write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.write(key, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                members[key]!.write(into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// Whole numbers as integers (as `JSONSerialization` writes them), others in Swift's shortest
    /// round-tripping form; JSON has no infinity or NaN, so those are null.
    private static func write(_ value: Double, into bytes: inout [UInt8]) {
        guard value.isFinite else { return bytes += "null".utf8 }
        if value == value.rounded(), abs(value) < 1e15 {
            bytes += String(Int(value)).utf8
        } else {
            bytes += "\(value)".utf8
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func write(_ string: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += #"\""#.utf8
            case UInt8(ascii: "\\"): bytes += #"\\"#.utf8
            case UInt8(ascii: "\n"): bytes += #"\n"#.utf8
            case UInt8(ascii: "\r"): bytes += #"\r"#.utf8
            case UInt8(ascii: "\t"): bytes += #"\t"#.utf8
            case 0..<0x20:
                bytes += #"\u00"#.utf8
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension JSONBody: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    package init(stringLiteral value: String) { self = .string(value) }
    package init(integerLiteral value: Int) { self = .int(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(arrayLiteral elements: JSONBody...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSONBody)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}
