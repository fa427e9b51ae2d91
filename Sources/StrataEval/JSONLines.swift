import Foundation
import StrataDiagnostics

/// One line of a JSONL file: its number (from 1), its object, and its text.
package struct JSONLRecord {
    package var line: Int
    package var object: [String: Any]
    package var text: String
}

/// JSONL as every reader of items takes it — datasets, and the input of
/// `strata run --input`: UTF-8 (a bad byte is located), LF or CRLF, blank
/// lines skipped, each other line a JSON object; ids are strings or integers
/// and appear once. Errors say `file:line:` and what is wrong.
package enum JSONLines {
    package static func read(_ data: Data, path: String) throws -> [JSONLRecord] {
        let text: String
        do {
            text = try InvalidUTF8.decode([UInt8](data))
        } catch let invalid as InvalidUTF8 {
            throw DatasetError("\(path):\(invalid.location): \(invalid)")
        }
        var records: [JSONLRecord] = []
        for (number, line) in SourceFile.lines(of: text).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                throw DatasetError("\(path):\(number + 1): not a JSON object")
            }
            records.append(JSONLRecord(line: number + 1, object: object, text: String(line)))
        }
        return records
    }

    /// The record's id under `key`, if it has one: a string, or an integer
    /// written back as one. A boolean or a fraction would come back changed from
    /// stores and reports, so it is an error (`what` says what the id is for).
    package static func id(of record: JSONLRecord, key: String, path: String, what: String) throws -> RecordID? {
        guard record.object[key] != nil else { return nil }
        guard let id = RecordID.read(record.text, key: key) else {
            throw DatasetError("\(path):\(record.line): '\(key)' must be a string or an integer, so \(what) can be matched to it")
        }
        return id
    }

    /// Ids seen so far in one file; a second use of one is an error.
    package struct UniqueIDs {
        private var seen = Set<String>()
        package init() {}

        package mutating func insert(_ id: String, line: Int, path: String) throws {
            guard seen.insert(id).inserted else { throw DatasetError("\(path):\(line): id '\(id)' appears twice") }
        }
    }
}
