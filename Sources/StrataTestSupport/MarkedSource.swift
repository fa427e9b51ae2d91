import Foundation
import Strata
import Testing

/// Source text with position markers, as swift-format's tests write them:
/// `1️⃣` … `9️⃣` stand where a diagnostic must start and are removed from the text.
package struct MarkedSource {
    package var text: String
    package var markers: [String: SourceLocation]

    package init(_ marked: String) {
        var text = String.UnicodeScalarView()
        var markers: [String: SourceLocation] = [:]
        var line = 1, column = 1
        let scalars = Array(marked.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let scalar = scalars[i]
            // A keycap marker is digit, U+FE0F, U+20E3.
            if ("1"..."9").contains(scalar), i + 2 < scalars.count, scalars[i + 1] == "\u{FE0F}", scalars[i + 2] == "\u{20E3}" {
                markers[String(String.UnicodeScalarView([scalar, scalars[i + 1], scalars[i + 2]]))] = SourceLocation(line: line, column: column)
                i += 3
                continue
            }
            text.append(scalar)
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            i += 1
        }
        self.text = String(text)
        self.markers = markers
    }
}

/// Serves files from memory, so include tests need no disk.
package func memoryLoader(_ files: [String: String]) -> SourceLoader {
    SourceLoader { path in
        guard let text = files[path] else { throw CocoaError(.fileReadNoSuchFile) }
        return text
    }
}

/// Compiles `marked` as `main.yaml` and expects exactly the diagnostics listed:
/// each one's code at its marker (in `main.yaml` unless the marker names another file).
package func expectDiagnostics(
    _ marked: String,
    _ expected: [(marker: String, code: DiagnosticCode)],
    includes: [String: String] = [:],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    let source = MarkedSource(marked)
    var files: [String: String] = [:]
    var includeMarkers: [String: (file: String, location: StrataDiagnostics.SourceLocation)] = [:]
    for (path, text) in includes {
        let included = MarkedSource(text)
        files[path] = included.text
        for (marker, location) in included.markers { includeMarkers[marker] = (path, location) }
    }
    let result = PipelineCompiler(loader: memoryLoader(files)).compile(source: source.text, path: "main.yaml")
    let actual = result.diagnostics.map { "\($0.range.file):\($0.range.start) \($0.code.rawValue)" }.sorted()
    let wanted = expected.map { item -> String in
        if let location = source.markers[item.marker] { return "main.yaml:\(location) \(item.code.rawValue)" }
        if let (file, location) = includeMarkers[item.marker] { return "\(file):\(location) \(item.code.rawValue)" }
        Issue.record("marker \(item.marker) is not in the source", sourceLocation: sourceLocation)
        return ""
    }.sorted()
    #expect(actual == wanted, Comment(rawValue: "\n" + DiagnosticRenderer(sources: result.sources).render(result.diagnostics)), sourceLocation: sourceLocation)
}

package typealias SourceLocation = StrataDiagnostics.SourceLocation
