import Foundation
import StrataRuntime

/// A pipeline served as a model: its name (the `model` clients ask for), the
/// runtime that answers its queries for the server's whole life, and a
/// fingerprint of its text that tells versions apart (`system_fingerprint`).
public struct ServedPipeline: Sendable {
    /// The model name clients ask for.
    public var name: String
    /// The runtime that answers.
    public var runtime: PipelineRuntime
    /// A content hash of the pipeline's text and its includes.
    public var fingerprint: String
    /// When the server loaded it (seconds since 1970), `created` in the model list.
    public var created: Int

    /// A pipeline to serve.
    public init(name: String, runtime: PipelineRuntime, fingerprint: String, created: Date = Date()) {
        self.name = name
        self.runtime = runtime
        self.fingerprint = fingerprint
        self.created = Int(created.timeIntervalSince1970)
    }

    /// `tokens` when the final layer makes one generate call (its text streams as it is written), else `whole`.
    var streamMode: String { runtime.streamsTokens ? "tokens" : "whole" }
}

/// The served pipelines by name and alias.
struct PipelineCatalog: Sendable {
    let pipelines: [ServedPipeline]
    let aliases: [String: String]

    init(_ pipelines: [ServedPipeline], aliases: [String: String]) throws(ServeSetupError) {
        var seen = Set<String>()
        for pipeline in pipelines where !seen.insert(pipeline.name).inserted {
            throw .duplicateName(pipeline.name)
        }
        for (alias, target) in aliases {
            guard seen.contains(target) else { throw .unknownAliasTarget(alias: alias, target: target) }
            guard !seen.contains(alias) else { throw .duplicateName(alias) }
        }
        self.pipelines = pipelines
        self.aliases = aliases
    }

    func pipeline(named name: String) -> ServedPipeline? {
        let resolved = aliases[name] ?? name
        return pipelines.first { $0.name == resolved }
    }

    /// Every name a client may use, pipelines first.
    var names: [String] { pipelines.map(\.name) + aliases.keys.sorted() }

    /// 404 for a model that is not served, with the nearest name.
    func unknown(_ name: String) -> APIError { .unknownModel(name, served: names) }
}

/// Why a server cannot start.
package enum ServeSetupError: Error, CustomStringConvertible, Sendable {
    case duplicateName(String)
    case unknownAliasTarget(alias: String, target: String)
    case publicWithoutKeys(host: String)

    package var description: String {
        switch self {
        case .duplicateName(let name):
            "two served pipelines are named '\(name)': each model name must be unique (rename one, or serve it under --alias)"
        case .unknownAliasTarget(let alias, let target):
            "--alias \(alias)=\(target): no served pipeline is named '\(target)'"
        case .publicWithoutKeys(let host):
            "refusing to serve on \(host) without API keys: anyone who can reach it could spend your model budget; name keys with --api-key-env, or pass --insecure-no-auth"
        }
    }
}
