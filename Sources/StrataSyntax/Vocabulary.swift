/// Every key the language accepts, per mapping context. The decoder reads
/// mappings against these lists, and a test keeps `Grammar/strata.schema.json`
/// in sync with them (each context is a `$defs` entry of the schema).
package enum Vocabulary {
    static let sampling = ["temperature", "max_tokens", "top_p", "seed"]

    package static let contexts: [String: [String]] = [
        "pipeline": ["strata", "name", "description", "include", "models", "defaults", "budget", "layers"],
        "model": ["provider", "model", "base_url", "api_key_env", "context_window", "price", "capabilities", "limits", "latency"],
        "price": ["input", "output", "cached_input"],
        "capabilities": ["n", "json_schema", "seed", "streaming", "logprobs", "prefix_cache"],
        "limits": ["max_in_flight", "requests_per_minute", "tokens_per_minute"],
        "latency": ["overhead_ms", "tokens_per_second"],
        "defaults": sampling,
        "budget": ["calls", "input_tokens", "output_tokens", "usd", "latency_s", "query_tokens"],
        "layer": LayerKind.allCases.map(\.rawValue),
        "ensemble": ["models", "prompt", "quorum"],
        "fuse": ["models", "prompt", "length_control", "on_failure"],
        "entry": ["model", "samples", "prompt"] + sampling,
        "critique": ["model", "prompt", "on_malformed", "structured"] + sampling,
        "rank": ["model", "top_k", "prompt", "structured"] + sampling,
        "verify": ["model", "first_k", "on_empty", "prompt", "verdict_prompt", "structured"] + sampling,
        "vote": ["extractor", "early_stop", "wave", "weight", "keep"],
        "early_stop": ["window", "consensus"],
        "route": ["cascade", "match", "classify", "default", "branches"],
        "classify": ["model", "prompt", "table"],
        "cascade": ["threshold", "measure"],
        "arm": ["regex", "longer_than", "shorter_than", "branch"],
        "unit-test": [
            "model", "mode", "tests", "test_source", "top_k", "first_k", "on_empty", "on_failure", "prompt", "judge_prompt", "timeout_s", "memory_mb",
            "structured",
        ] + sampling,
        "write-tests": ["model", "mode", "tests", "show", "prompt", "structured"] + sampling,
    ]

    static func keys(_ context: String) -> [String] { contexts[context] ?? [] }
}
