/// A server-sent events parser that keeps state across chunks: lines may be
/// split anywhere (even inside a `\r\n`), events may span several `data:`
/// lines, and comments and unknown fields are ignored.
package struct SSEParser: Sendable {
    package struct Event: Sendable, Hashable {
        package var event: String?
        package var data: String
        package var id: String?
    }

    private var buffer: [UInt8] = []
    private var dataLines: [String] = []
    private var eventName: String?
    private var eventID: String?
    private var sawCarriageReturn = false

    package init() {}

    /// Feeds bytes; returns the events they complete.
    package mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if sawCarriageReturn {
                sawCarriageReturn = false
                if byte == 0x0A { continue }  // the \n of a \r\n split across chunks or not
            }
            if byte == 0x0D || byte == 0x0A {
                sawCarriageReturn = byte == 0x0D
                if let event = processLine() { events.append(event) }
                continue
            }
            buffer.append(byte)
        }
        return events
    }

    /// Ends the stream: an event without its closing blank line is still delivered.
    package mutating func finish() -> [Event] {
        var events: [Event] = []
        if !buffer.isEmpty, let event = processLine() { events.append(event) }
        if let event = dispatch() { events.append(event) }
        return events
    }

    private mutating func processLine() -> Event? {
        let line = String(decoding: buffer, as: UTF8.self)
        buffer.removeAll(keepingCapacity: true)
        if line.isEmpty { return dispatch() }
        if line.hasPrefix(":") { return nil }
        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
        } else {
            field = Substring(line)
            value = ""
        }
        switch field {
        case "data": dataLines.append(String(value))
        case "event": eventName = String(value)
        case "id": eventID = String(value)
        default: break
        }
        return nil
    }

    private mutating func dispatch() -> Event? {
        defer {
            dataLines.removeAll()
            eventName = nil
        }
        guard !dataLines.isEmpty else { return nil }
        return Event(event: eventName, data: dataLines.joined(separator: "\n"), id: eventID)
    }
}
