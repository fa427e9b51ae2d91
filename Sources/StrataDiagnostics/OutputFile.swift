import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A file the user asked Strata to write (`-o`, `--report`, `--timeline`, …),
/// written so that it never lies: a regular file is written beside the target,
/// synced and renamed over it (a reader sees the old file or the new one,
/// never half); a device or fifo is written straight through (never replaced
/// by a regular file); a socket or directory is refused; and every write,
/// sync and close is checked, so a full disk is an error, not a success.
package enum OutputFile {
    /// Why an output could not be written, said as the user needs it.
    package struct Failure: Error, CustomStringConvertible, LocalizedError {
        package var description: String
        package var errorDescription: String? { description }
    }

    package static func write(_ text: String, to path: String) throws { try write(Data(text.utf8), to: path) }

    package static func write(_ data: Data, to path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: throw Failure(description: "cannot write \(path): it is a directory")
            case S_IFCHR, S_IFBLK, S_IFIFO: return try writeThrough(data, to: path)
            default: throw Failure(description: "cannot write \(path): it is not a regular file, a device or a fifo")
            }
        }
        // A link to a regular file: the file it names is replaced, not the link.
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let directory = (target as NSString).deletingLastPathComponent
        var template = Array(((directory.isEmpty ? "." : directory) + "/." + (target as NSString).lastPathComponent + ".strata-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw failure(path) }
        let temporary = String(cString: template)
        do {
            try writeAll(data, to: descriptor, path: path)
            guard fsync(descriptor) == 0 else { throw failure(path) }
            // The mode the file had, or what a new file gets under the umask (mkstemp makes 0600).
            let mask = umask(0)
            umask(mask)
            let mode = info.st_mode != 0 && (info.st_mode & S_IFMT) == S_IFREG ? info.st_mode & 0o7777 : 0o666 & ~mask
            fchmod(descriptor, mode)
            let closed = Glibc.close(descriptor)
            guard closed == 0 else { throw failure(path) }
            guard rename(temporary, target) == 0 else { throw failure(path) }
        } catch {
            _ = Glibc.close(descriptor)
            unlink(temporary)
            throw error
        }
    }

    static func writeThrough(_ data: Data, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(path) }
        do {
            try writeAll(data, to: descriptor, path: path)
        } catch {
            _ = Glibc.close(descriptor)
            throw error
        }
        guard Glibc.close(descriptor) == 0 else { throw failure(path) }
    }

    /// Writes all of `data` to `descriptor`, retrying short writes and interruptions; any error is thrown.
    package static func writeAll(_ data: Data, to descriptor: Int32, path: String) throws {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure(path)
                }
                offset += written
            }
        }
    }

    static func failure(_ path: String) -> Failure {
        let code = errno
        let reason = code == ENOSPC ? "the disk is full" : String(cString: strerror(code))
        return Failure(description: "cannot write \(path): \(reason)")
    }
}

/// A file appended to line by line (a trace, a request log): every write is
/// checked, and the first failure is kept so the command can end with it
/// instead of reporting success.
package final class AppendingFile: @unchecked Sendable {
    // Sendable by hand: `failure` is read and written only under `lock`; the descriptor is written under it too.
    private let descriptor: Int32
    private let path: String
    private let lock = NSLock()
    private var failure: OutputFile.Failure?

    /// Opens `path` for appending, creating it (and its directory).
    package init(path: String) throws {
        try? FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw OutputFile.failure(path) }
        self.descriptor = descriptor
        self.path = path
    }

    /// Appends `data`; after a failure, nothing more is written.
    package func append(_ data: Data) {
        lock.withLock {
            guard failure == nil else { return }
            do { try OutputFile.writeAll(data, to: descriptor, path: path) } catch { failure = error as? OutputFile.Failure }
        }
    }

    /// Syncs the file; throws the first failure seen, if any.
    package func sync() throws {
        try lock.withLock {
            if let failure { throw failure }
            if fsync(descriptor) != 0, errno != EINVAL {
                failure = OutputFile.failure(path)
                throw failure!
            }
        }
    }

    /// The first failure, if writing stopped.
    package var error: OutputFile.Failure? { lock.withLock { failure } }

    deinit { _ = Glibc.close(descriptor) }
}
