// A coverage-guided fuzz target over the whole front end, as `strata check`
// runs it: bytes → UTF-8 check → YAML → pipeline syntax (includes resolved) →
// checker → graph, cost and budget → rendered diagnostics; and, for search
// files, the search-space reader, template expansion and every configuration
// compiled. Any trap, runaway recursion or slow input is a bug.
//
// Built two ways (scripts/fuzz):
//   - with `-sanitize=fuzzer -D STRATA_LIBFUZZER`: libFuzzer drives
//     `LLVMFuzzerTestOneInput`; arguments are libFuzzer's own.
//   - in the normal build: `FrontEndFuzzer FILE|DIR...` replays inputs (the
//     seed corpus, saved crashes) through the same function, so the tests
//     can run every regression input against the real code.
import Foundation
import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FrontEnd.exercise(bytes)
    return 0
}

enum FrontEnd {
    /// The input is served as the file `input.yaml` in a directory of its
    /// own; includes it names resolve as they would for a real file there.
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-fuzz-\(getpid())").path
    static let path = directory + "/input.yaml"

    static func exercise(_ bytes: [UInt8]) {
        let mainPath = path
        var loader = SourceLoader(includeRoots: [])
        loader.readFile = { requested in
            guard requested == mainPath else { return try SourceLoader.readTextFile(requested) }
            return try InvalidUTF8.decode(bytes)
        }
        var compiler = PipelineCompiler(loader: loader)
        // A few configurations cover the per-configuration path; hundreds would only slow the fuzzer.
        compiler.feasibilityProbeLimit = 8
        let result = compiler.check(path: mainPath)
        _ = DiagnosticRenderer(sources: result.sources).render(result.diagnostics)
        _ = DiagnosticRenderer.json(result.diagnostics)
        if let compiled = result.compiled ?? result.estimate {
            for format in EmitFormat.allCases { _ = compiled.render(format) }
        }
    }
}

#if STRATA_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

@main
enum FrontEndFuzzer {
    static func main() {
        try? FileManager.default.createDirectory(atPath: FrontEnd.directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: FrontEnd.directory) }
        #if STRATA_LIBFUZZER
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        let status = LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
        try? FileManager.default.removeItem(atPath: FrontEnd.directory)
        exit(status)
        #else
        replay(Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    /// Runs every file named (directories recursively) through the front end,
    /// printing the slowest, and exits 1 if any took longer than `--max-seconds`.
    static func replay(_ arguments: [String]) {
        var limit = 1.0
        var paths: [String] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--max-seconds", let value = rest.popFirst().flatMap(Double.init) { limit = value } else { paths.append(argument) }
        }
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: FrontEndFuzzer [--max-seconds S] FILE|DIR...\n".utf8))
            exit(2)
        }
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if !isDirectory.boolValue { files.append(path); continue }
            let walker = FileManager.default.enumerator(atPath: path)
            while let relative = walker?.nextObject() as? String {
                let full = path + "/" + relative
                if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue { files.append(full) }
            }
        }
        var slow: [(String, Double)] = []
        var slowest = ("", 0.0)
        for file in files.sorted() {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            let start = DispatchTime.now().uptimeNanoseconds
            FrontEnd.exercise([UInt8](data))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if seconds > slowest.1 { slowest = (file, seconds) }
            if seconds > limit { slow.append((file, seconds)) }
        }
        print("replayed \(files.count) inputs; slowest \(String(format: "%.3f", slowest.1)) s (\(slowest.0))")
        for (file, seconds) in slow { print("too slow: \(file): \(String(format: "%.3f", seconds)) s (limit \(limit) s)") }
        exit(slow.isEmpty ? 0 : 1)
    }
}
