import ArgumentParser
import Foundation
import Strata

/// The dataset options shared by `eval` and `search` (optional for `search --dry-run`).
struct DatasetOptions: ParsableArguments {
    @Option(help: "The dataset file (JSONL, or gzip-compressed JSONL).")
    var dataset: String?

    @Option(help: "The dataset's format: \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var datasetFormat: DatasetFormat = .auto

    @Option(help: "Map a field for jsonl datasets: query=FIELD, reference=FIELD, tests=FIELD or id=FIELD.")
    var field: [String] = []

    @Option(help: "How answers are scored (default: by the dataset's format).")
    var scorer: String?

    func load() throws -> LoadedDataset {
        guard let dataset else { throw ValidationError("Missing expected argument '--dataset <dataset>'") }
        var mapping = FieldMapping()
        for assignment in field {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--field takes NAME=FIELD, not '\(assignment)'") }
            switch parts[0] {
            case "query": mapping.query = parts[1]
            case "reference": mapping.reference = parts[1]
            case "tests": mapping.tests = parts[1]
            case "id": mapping.id = parts[1]
            default: throw ValidationError("--field names query, reference, tests or id, not '\(parts[0])'")
            }
        }
        do {
            return try DatasetLoader.load(path: dataset, format: datasetFormat, fields: mapping)
        } catch {
            writeError("\(error)")
            throw ExitCode(1)
        }
    }

    /// The scorer asked for, or the dataset's default (judge scorers are set up by `eval`).
    func plainScorer(for loaded: LoadedDataset) throws -> Scorer {
        if let scorer {
            guard let parsed = Scorer(scorer) else { throw ValidationError("unknown scorer '\(scorer)'") }
            return parsed
        }
        return Scorer.default(for: loaded)
    }
}

extension DatasetFormat: ExpressibleByArgument {}
