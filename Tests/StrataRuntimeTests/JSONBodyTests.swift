import Foundation
import StrataProviders
import Testing

/// Request bodies are written by hand, not by `JSONSerialization`: every value must read back as itself.
@Suite struct JSONBodyTests {
    @Test func everyValueReadsBackAsItself() throws {
        let text = "quote \" backslash \\ newline \n tab \t bell \u{7} slash / é 😀"
        let body: JSONBody = [
            "text": .string(text), "whole": .double(2), "fraction": .double(0.7), "tiny": .double(1e-7), "huge": .double(1e300),
            "nan": .double(.nan), "int": -42, "yes": true, "nothing": .null, "list": [1, "two", [:]],
            "schema": .raw(#"{"type":"object"}"#),
        ]
        let object = try #require(try JSONSerialization.jsonObject(with: body.data) as? [String: Any])
        #expect(object["text"] as? String == text)
        #expect(object["whole"] as? Int == 2)
        #expect(object["fraction"] as? Double == 0.7)
        #expect(object["tiny"] as? Double == 1e-7)
        #expect(object["huge"] as? Double == 1e300)
        #expect(object["nan"] is NSNull)
        #expect(object["int"] as? Int == -42)
        #expect(object["yes"] as? Bool == true)
        #expect((object["list"] as? [Any])?.count == 3)
        #expect((object["schema"] as? [String: Any])?["type"] as? String == "object")
    }

    @Test func keysAreSortedSoTheSameValueIsTheSameBytes() {
        let body: JSONBody = ["b": 1, "a": ["d": 2, "c": 3]]
        #expect(body.text == #"{"a":{"c":3,"d":2},"b":1}"#)
        #expect(JSONBody.string("\u{1F}").text == #""\u001f""#)
    }
}
