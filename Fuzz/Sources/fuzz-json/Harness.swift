import FuzzSupport
import TaskBridgeCore

/// JSONParser, full parse. Invariants:
/// - an error's offset lies inside the input;
/// - validation alone (an empty PathTrie) accepts and rejects exactly what a full parse does;
/// - a parsed value survives JSONWriter: serialize → parse gives an equal value, the sorted
///   serialization is a fixpoint, and the unordered (storage) form parses to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let value: JSONValue
    do {
        value = try JSONParser.parse(input)
    } catch {
        invariant(error.offset >= 0 && error.offset <= input.count, "error offset \(error.offset) outside 0...\(input.count)")
        let validationOnly = Result { () throws(JSONParseError) in try JSONParser.parse(input, keeping: PathTrie()) }
        if case .success = validationOnly { invariant(false, "validation accepts what a full parse rejects (\(error)): \(escaped(input))") }
        return 0
    }
    do {
        _ = try JSONParser.parse(input, keeping: PathTrie())
    } catch {
        invariant(false, "validation rejects what a full parse accepts: \(error): \(escaped(input))")
    }
    if KnownIssues.nonFiniteNumber(value) { return 0 }
    let text = JSONWriter.serialize(value)
    let again: JSONValue
    do {
        again = try JSONParser.parse(text)
    } catch {
        invariant(false, "JSONWriter output does not parse (\(error)): \(escaped(text))")
        return 0
    }
    invariant(again == value, "round trip changed the value: \(escaped(input)) → \(escaped(text)) → \(show(again))")
    invariant(JSONWriter.serialize(again) == text, "serialization is not a fixpoint: \(escaped(text))")
    let unordered = JSONWriter.serializeUnordered(value)
    invariant((try? JSONParser.parse(unordered)) == value, "unordered serialization changed the value: \(escaped(unordered))")
    return 0
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_json_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
