import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a sandboxed process is started: bubblewrap (`bwrap`, what Flatpak
/// uses) with fresh user, PID, network, IPC, UTS and mount namespaces, a
/// read-only view of the system's programs and libraries and nothing else of
/// the host (no working directory, home, dataset, store or cache), private
/// tmpfs for `/tmp`, `/var/tmp` and `/dev/shm` that vanish with the run, and
/// rlimits set inside the run's own user namespace, so the process limit is
/// the run's alone. Started by root, it first drops to a uid of its own
/// (root's processes are exempt from the process limit).
enum Bubblewrap {
    /// Where bwrap is, if installed.
    static let executable: String? = ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static let setpriv = "/usr/bin/setpriv"
    static let prlimit = "/usr/bin/prlimit"

    /// The Python interpreter, found on the usual paths.
    static let python: String? =
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        ?? ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/python3" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Why no sandbox can be started here, or nil when one can. Probed once,
    /// off the cooperative pool (it starts a process).
    static let unavailable: String? = {
        guard let bwrap = executable else {
            return "the sandbox needs bubblewrap, which is not installed (apt-get install bubblewrap; scripts/bootstrap installs it)"
        }
        guard let python else { return "the sandbox needs python3, which is not installed" }
        guard FileManager.default.isExecutableFile(atPath: prlimit) else { return "the sandbox needs prlimit (util-linux)" }
        let command = prefix(uid: runUID()) + [bwrap] + arguments(directory: nil, tmpBytes: 1 << 20) + [python, "-c", "pass"]
        let errors = Pipe()
        let probe = ChildProcess(
            URL(fileURLWithPath: command[0]), arguments: Array(command.dropFirst()), environment: environment, output: .null,
            error: .pipe(errors))
        do { try probe.run() } catch { return "bubblewrap could not be started: \(error)" }
        let said = errors.fileHandleForReading.readDataToEndOfFile()
        probe.waitUntilExit()
        guard probe.terminationStatus == 0 else {
            let reason = String(decoding: said.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return "bubblewrap cannot make a sandbox on this machine (user namespaces disabled?): \(reason)"
        }
        return nil
    }()

    static let environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]

    /// A uid for one run when started as root, drawn from a range no account
    /// uses; nil otherwise (the caller's own uid is not root's, and the run's
    /// user namespace already keeps its processes apart).
    static func runUID() -> UInt32? {
        getuid() == 0 ? 2_000_000_000 + UInt32.random(in: 0..<100_000_000) : nil
    }

    static func prefix(uid: UInt32?) -> [String] {
        guard let uid else { return [] }
        return [setpriv, "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--"]
    }

    /// bwrap's arguments up to the command: `directory` (the run's files) appears read-only at `/sandbox`.
    static func arguments(directory: String?, tmpBytes: Int) -> [String] {
        var arguments = [
            "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--disable-userns", "--uid", "1000", "--gid", "1000",
            "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/tmp",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--ro-bind", "/usr", "/usr",
        ]
        // Merged-/usr systems link these into /usr; older ones keep real directories.
        for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let path = "/" + top
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                arguments += ["--symlink", target, path]
            } else if FileManager.default.fileExists(atPath: path) {
                arguments += ["--ro-bind", path, path]
            }
        }
        if let python, let root = interpreterRoot(python) { arguments += ["--ro-bind", root, root] }
        arguments += ["--proc", "/proc", "--dev", "/dev"]
        for scratch in ["/tmp", "/var/tmp", "/dev/shm"] { arguments += ["--size", String(tmpBytes), "--tmpfs", scratch] }
        if let directory { arguments += ["--ro-bind", directory, "/sandbox"] }
        arguments += ["--chdir", "/tmp"]
        return arguments
    }

    /// The installation an interpreter outside /usr lives in (a pyenv or a venv), to be seen read-only.
    static func interpreterRoot(_ python: String) -> String? {
        let real = URL(fileURLWithPath: python).resolvingSymlinksInPath()
        guard !real.path.hasPrefix("/usr/") else { return nil }
        return real.deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The whole command for `script` (a file in `directory`) under `limits`.
    static func command(directory: String, script: String, arguments scriptArguments: [String], limits: SandboxLimits) -> [String]? {
        guard let bwrap = executable, let python else { return nil }
        let rlimits = [
            "--cpu=\(limits.cpuSeconds)", "--as=\(limits.memoryMB << 20)", "--fsize=\(limits.fileSizeMB << 20)",
            "--nproc=\(limits.processes)", "--core=0", "--nofile=256",
        ]
        return prefix(uid: runUID()) + [bwrap] + arguments(directory: directory, tmpBytes: max(8, limits.fileSizeMB * 4) << 20)
            + [prlimit] + rlimits + ["--", python, "-I", "-B", "/sandbox/" + script] + scriptArguments
    }

    static let description =
        "bubblewrap: own user, PID, network, IPC and mount namespaces; read-only /usr; private /tmp, /var/tmp and /dev/shm; "
        + "no network; rlimits (CPU, memory, file size, processes per run); clean environment"
}
