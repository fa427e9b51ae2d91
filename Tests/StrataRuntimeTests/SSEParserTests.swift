import Strata
import Testing

@Suite struct SSEParserTests {
    let stream = "event: delta\r\ndata: {\"a\":1}\r\n\r\n: a comment\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n"

    @Test func parsesWholeStreams() {
        var parser = SSEParser()
        let events = parser.feed(Array(stream.utf8)) + parser.finish()
        #expect(events.map(\.data) == ["{\"a\":1}", "line one\nline two", "[DONE]"])
        #expect(events.first?.event == "delta")
    }

    @Test func splitsAnywhereGiveTheSameEvents() {
        let bytes = Array(stream.utf8)
        for size in 1...7 {
            var parser = SSEParser()
            var events: [SSEParser.Event] = []
            var index = 0
            while index < bytes.count {
                events += parser.feed(bytes[index..<min(bytes.count, index + size)])
                index += size
            }
            events += parser.finish()
            #expect(events.map(\.data) == ["{\"a\":1}", "line one\nline two", "[DONE]"], "chunk size \(size)")
        }
    }

    @Test func anEventWithoutItsBlankLineIsDeliveredAtTheEnd() {
        var parser = SSEParser()
        #expect(parser.feed(Array("data: tail".utf8)).isEmpty)
        #expect(parser.finish().map(\.data) == ["tail"])
    }
}
