import StrataCache
import StrataDiagnostics

/// What makes two runs of a pipeline the same: its own text and the texts of
/// the files it includes, in order. Paths do not count, so a pipeline named
/// `Pipelines/x.yaml` or `./Pipelines/x.yaml` — or filled in from a search
/// template — is one pipeline. Run keys (eval and search) use it.
package enum PipelineIdentity {
    package static func of(text: String, includes: [String]) -> String {
        ContentHash.sha256(([text] + includes).joined(separator: "\n\u{0}"))
    }

    /// The identity of the pipeline at `path`, read with its includes into `sources`.
    package static func of(_ sources: SourceMap, main path: String) -> String {
        of(text: sources[path]?.text ?? "", includes: sources.all.filter { $0.path != path }.map(\.text))
    }
}
