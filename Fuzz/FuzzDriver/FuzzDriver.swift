// What every fuzz target shares: run under libFuzzer or replay saved inputs.
//
// Each target is built two ways (scripts/fuzz):
//   - with `-sanitize=fuzzer -D STRATA_LIBFUZZER`: libFuzzer drives the
//     target's function; arguments are libFuzzer's own.
//   - in the normal build: `SomeFuzzer [--max-seconds S] FILE|DIR...` replays
//     inputs (seed corpora, saved crashes) through the same function, so the
//     tests run every regression input against the real code.
import Foundation

#if STRATA_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

public enum FuzzDriver {
    /// Runs `oneInput` under libFuzzer (fuzzer builds) or replays the files
    /// named on the command line through `exercise` (normal builds); never returns.
    public static func main(
        _ name: String, oneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt, exercise: ([UInt8]) -> Void
    ) -> Never {
        #if STRATA_LIBFUZZER
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, oneInput))
        #else
        replay(name, Array(CommandLine.arguments.dropFirst()), exercise: exercise)
        #endif
    }

    /// libFuzzer's bytes as an array (empty for a null pointer).
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    }

    /// Runs every file named (directories recursively) through `exercise`,
    /// printing the slowest, and exits 1 if any took longer than `--max-seconds`.
    static func replay(_ name: String, _ arguments: [String], exercise: ([UInt8]) -> Void) -> Never {
        var limit = 1.0
        var paths: [String] = []
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "--max-seconds", let value = rest.popFirst().flatMap(Double.init) { limit = value } else { paths.append(argument) }
        }
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: \(name) [--max-seconds S] FILE|DIR...\n".utf8))
            exit(2)
        }
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if !isDirectory.boolValue {
                files.append(path)
                continue
            }
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
            exercise([UInt8](data))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if seconds > slowest.1 { slowest = (file, seconds) }
            if seconds > limit { slow.append((file, seconds)) }
        }
        print("replayed \(files.count) inputs; slowest \(String(format: "%.3f", slowest.1)) s (\(slowest.0))")
        for (file, seconds) in slow { print("too slow: \(file): \(String(format: "%.3f", seconds)) s (limit \(limit) s)") }
        exit(slow.isEmpty ? 0 : 1)
    }

    /// Stops the run as a crash (libFuzzer saves the input) when an invariant breaks.
    public static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        guard !condition else { return }
        FileHandle.standardError.write(Data("invariant broken: \(message())\n".utf8))
        abort()
    }
}
