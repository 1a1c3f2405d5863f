import Foundation
import Testing
import BiSNN
import EventStream
@testable import BiSNNService

/// Just enough of JSON Schema 2020-12 to check the service's messages against docs/*.schema.json: the
/// keywords those files use. Any other keyword is reported, so the schemas cannot grow past what is checked.
struct MiniSchemaValidator {
    let root: JSONValue

    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "$defs"]

    /// The problems of `value` against `schema`, each with its JSON path; empty when it validates.
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        guard case .object(let s) = schema else { return ["\(path): schema is not an object"] }
        var out: [String] = []
        for (keyword, rule) in s where !Self.annotations.contains(keyword) {
            switch (keyword, rule) {
            case ("$ref", .string(let ref)):
                guard ref.hasPrefix("#/$defs/"), case .object(let r) = root, case .object(let defs)? = r["$defs"],
                    let target = defs[String(ref.dropFirst("#/$defs/".count))]
                else { return ["\(path): unresolved $ref \(ref)"] }
                out += problems(value, target, at: path)
            case ("type", .string(let type)):
                if !Self.has(type: type, value) { out.append("\(path): not of type \(type): \(value)") }
            case ("const", _):
                if value != rule { out.append("\(path): not \(rule)") }
            case ("enum", .array(let options)):
                if !options.contains(value) { out.append("\(path): \(value) not in enum") }
            case ("required", .array(let keys)):
                guard case .object(let o) = value else { break }
                for case .string(let k) in keys where o[k] == nil { out.append("\(path): missing \(k)") }
            case ("properties", .object(let props)):
                guard case .object(let o) = value else { break }
                for (k, v) in o { if let p = props[k] { out += problems(v, p, at: "\(path).\(k)") } }
            case ("additionalProperties", _):
                guard case .object(let o) = value else { break }
                let known: [String: JSONValue]
                if case .object(let p)? = s["properties"] { known = p } else { known = [:] }
                for (k, v) in o where known[k] == nil {
                    if rule == .bool(false) { out.append("\(path): unexpected key \(k)") } else if rule != .bool(true) {
                        out += problems(v, rule, at: "\(path).\(k)")
                    }
                }
            case ("propertyNames", _):
                guard case .object(let o) = value else { break }
                for k in o.keys { out += problems(.string(k), rule, at: "\(path){\(k)}") }
            case ("items", _):
                guard case .array(let a) = value else { break }
                for (i, v) in a.enumerated() { out += problems(v, rule, at: "\(path)[\(i)]") }
            case ("minItems", .number(let n)):
                if case .array(let a) = value, Double(a.count) < n { out.append("\(path): fewer than \(n) items") }
            case ("minimum", .number(let n)):
                if case .number(let d) = value, d < n { out.append("\(path): \(d) < \(n)") }
            case ("maximum", .number(let n)):
                if case .number(let d) = value, d > n { out.append("\(path): \(d) > \(n)") }
            case ("minLength", .number(let n)):
                if case .string(let t) = value, Double(t.count) < n { out.append("\(path): shorter than \(n)") }
            case ("pattern", .string(let p)):
                if case .string(let t) = value, (try? Regex(p)).map({ t.contains($0) }) != true {
                    out.append("\(path): \"\(t)\" does not match \(p)")
                }
            default:
                out.append("\(path): keyword \(keyword) not understood by the test validator")
            }
        }
        return out
    }

    static func has(type: String, _ v: JSONValue) -> Bool {
        switch (type, v) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number):
            true
        case ("integer", .number(let d)):
            d.rounded() == d
        default:
            false
        }
    }
}

@Suite struct MessageJSONTests {
    typealias F = WireFixtures

    static func schema(_ name: String) throws -> JSONValue {
        let data = try Data(contentsOf: F.packageRoot.appendingPathComponent("docs/" + name))
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    static func object(_ json: [UInt8]) throws -> [String: JSONValue] {
        guard case .object(let o) = try JSONDecoder().decode(JSONValue.self, from: Data(json)) else {
            throw CocoaError(.coderReadCorrupt)
        }
        return o
    }

    static func strings(_ v: JSONValue?) -> [String] {
        guard case .array(let a)? = v else { return [] }
        return a.compactMap(\.string)
    }

    static func keys(_ v: JSONValue?) -> Set<String> {
        guard case .object(let o)? = v else { return [] }
        return Set(o.keys)
    }

    static let prediction = PredictionMessage(
        sensor: "cam0", sequence: 258, startTimeMicroseconds: 5_000_654, endTimeMicroseconds: 5_311_175,
        eventCount: 4325, classIndex: 3, label: "3", confidence: 0.82,
        probabilities: [0.01, 0.02, 0.03, 0.82, 0.02, 0.03, 0.01, 0.02, 0.02, 0.02], entropy: 0.71,
        mutualInformation: 0.05, agreement: 0.9, abstained: false, ensembleSize: 10,
        model: "nmnist.safetensors@9f86d081", droppedMessages: 0, latencyMicroseconds: 1840)

    static let status = StatusMessage(
        service: "bisnnd", version: BisnnVersion.current, time: 1_718_000_000.5, uptimeSeconds: 3600.25,
        model: "nmnist.safetensors@9f86d081",
        sensors: [
            "cam0": StatusMessage.SensorStatus(
                messages: 40, events: 51873, lateEvents: 3, frames: 3600, shedFrames: 0, decisions: 12,
                sequenceGaps: 1, lostMessages: 2, restarts: 0, malformed: ["coordinates": 1],
                lastMessageAgeSeconds: 0.25),
            "cam1": StatusMessage.SensorStatus(),
        ],
        malformed: ["topic": 1])

    // MARK: predictions

    @Test func predictionJSONIsCompactSortedAndExact() throws {
        let json = try Self.prediction.json()
        let text = String(decoding: json, as: UTF8.self)
        #expect(text == """
            {"abstained":false,"agreement":0.9,"class":3,"complete":true,"confidence":0.82,"dropped_messages":0,\
            "ensemble_size":10,"entropy":0.71,"events":4325,"label":"3","latency_us":1840,\
            "model":"nmnist.safetensors@9f86d081","mutual_information":0.05,\
            "probabilities":[0.01,0.02,0.03,0.82,0.02,0.03,0.01,0.02,0.02,0.02],"sensor":"cam0","seq":258,\
            "shed_frames":0,"t_end_us":5311175,"t_start_us":5000654}
            """)
        #expect(try PredictionMessage.decode(json: json) == Self.prediction)
        let frames = try Self.prediction.frames()
        #expect(frames == [Array("predictions/cam0".utf8), json])
    }

    @Test func predictionHasExactlyTheSchemaKeys() throws {
        let schema = try Self.schema("prediction.schema.json")
        guard case .object(let s) = schema else { throw CocoaError(.coderReadCorrupt) }
        let required = Self.strings(s["required"])
        #expect(Set(required) == Self.keys(s["properties"]))
        #expect(s["additionalProperties"] == .bool(false))
        #expect(s["$schema"]?.string == "https://json-schema.org/draft/2020-12/schema")
        let object = try Self.object(try Self.prediction.json())
        #expect(Set(object.keys) == Set(required))
        #expect(required == PredictionMessage.keys)
        let validator = MiniSchemaValidator(root: schema)
        #expect(validator.problems(.object(object), schema) == [])

        // The validator does catch what the schema forbids.
        var extra = object
        extra["extra"] = .null
        #expect(!validator.problems(.object(extra), schema).isEmpty)
        var missing = object
        missing["label"] = nil
        #expect(!validator.problems(.object(missing), schema).isEmpty)
        var fractional = object
        fractional["seq"] = .number(1.5)
        #expect(!validator.problems(.object(fractional), schema).isEmpty)
    }

    @Test func predictionFromADecision() throws {
        let decision = Decision(
            drawProbabilities: [[0.1, 0.7, 0.2], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], classCount: 3, steps: 20,
            rule: AbstentionRule(minimumConfidence: 0.6))
        let message = PredictionMessage(
            sensor: F.cam0, sequence: 9, startTimeMicroseconds: 10, endTimeMicroseconds: 20, eventCount: 5,
            decision: decision, labels: ["zero", "one"], model: "m@1", droppedMessages: 2, latencyMicroseconds: 30)
        #expect(message.classIndex == 1 && message.label == "one")
        #expect(message.confidence == decision.confidence)
        #expect(message.probabilities == decision.probabilities)
        #expect(message.entropy == decision.predictiveEntropy)
        #expect(message.mutualInformation == decision.mutualInformation)
        #expect(message.agreement == decision.agreement)
        #expect(message.abstained && message.ensembleSize == 3)
        let unnamed = PredictionMessage(
            sensor: F.cam0, sequence: 9, startTimeMicroseconds: 10, endTimeMicroseconds: 20, eventCount: 5,
            decision: decision, labels: [], model: "m@1", droppedMessages: 0, latencyMicroseconds: 30)
        #expect(unnamed.label == "1")
        let schema = try Self.schema("prediction.schema.json")
        #expect(MiniSchemaValidator(root: schema).problems(.object(try Self.object(try message.json())), schema) == [])

        // JSON has no NaN: such a message does not encode.
        var broken = message
        broken.entropy = .nan
        #expect(throws: (any Error).self) { try broken.json() }
    }

    // MARK: status

    @Test func statusHasExactlyTheSchemaKeys() throws {
        let schema = try Self.schema("status.schema.json")
        guard case .object(let s) = schema, case .object(let defs)? = s["$defs"], case .object(let sensor)? = defs["sensor"],
            case .object(let rejections)? = defs["rejections"], case .object(let names)? = rejections["propertyNames"]
        else { throw CocoaError(.coderReadCorrupt) }
        let required = Self.strings(s["required"])
        #expect(Set(required) == Self.keys(s["properties"]))
        #expect(required == StatusMessage.keys)
        #expect(Self.strings(sensor["required"]) == StatusMessage.SensorStatus.keys)
        #expect(Set(Self.strings(sensor["required"])) == Self.keys(sensor["properties"]))
        // The schema's reason names are the code's.
        #expect(Self.strings(names["enum"]) == WireRejection.Reason.all.map(\.name))

        let json = try Self.status.json()
        #expect(!json.contains(UInt8(ascii: " ")) && !json.contains(UInt8(ascii: "\n")))
        let object = try Self.object(json)
        #expect(Set(object.keys) == Set(required))
        #expect(Self.keys(object["sensors"]) == ["cam0", "cam1"])
        guard case .object(let sensors)? = object["sensors"] else { throw CocoaError(.coderReadCorrupt) }
        for (_, entry) in sensors { #expect(Self.keys(entry) == Set(StatusMessage.SensorStatus.keys)) }
        #expect(MiniSchemaValidator(root: schema).problems(.object(object), schema) == [])
        #expect(try StatusMessage.decode(json: json) == Self.status)
        #expect(try Self.status.frames()[0] == Array("status/bisnnd".utf8))

        // Counted reasons validate; a name that is no reason does not.
        var counted = Self.status
        counted.countUnattributedRejection(.magic)
        counted.sensors["cam1"]?.countRejection(.geometryChange)
        counted.sensors["cam1"]?.countRejection(.geometryChange)
        #expect(counted.malformed == ["topic": 1, "magic": 1])
        #expect(counted.sensors["cam1"]?.malformed == ["geometry_change": 2])
        let validator = MiniSchemaValidator(root: schema)
        #expect(validator.problems(.object(try Self.object(try counted.json())), schema) == [])
        counted.malformed["late"] = 1
        #expect(!validator.problems(.object(try Self.object(try counted.json())), schema).isEmpty)
    }

    // MARK: the document

    /// The fenced ```json examples of docs/protocol.md: prediction first, then status.
    static func documentExamples() throws -> [[UInt8]] {
        let text = try F.doc("protocol.md")
        var blocks: [[UInt8]] = []
        var rest = text[...]
        while let open = rest.range(of: "```json\n"), let close = rest[open.upperBound...].range(of: "```") {
            blocks.append(Array(rest[open.upperBound..<close.lowerBound].utf8))
            rest = rest[close.upperBound...]
        }
        return blocks
    }

    /// The keys in the first column of the markdown table that follows `heading` in docs/protocol.md
    /// (the `| key | ...` rows after the first table header once `heading` has been seen).
    static func tableKeys(after heading: String, skippingTables: Int = 0) throws -> [String] {
        let text = try F.doc("protocol.md")
        let start = try #require(text.range(of: heading))
        var keys: [String] = []
        var tables = 0
        var inTable = false
        for line in text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("|") {
                inTable = true
                if tables == skippingTables, line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") {
                    keys.append(String(line[line.index(line.startIndex, offsetBy: 3)..<end]))
                }
            } else if inTable {
                inTable = false
                tables += 1
                if tables > skippingTables { break }
            }
        }
        return keys
    }

    @Test func documentExamplesAndTablesMatchTheCode() throws {
        let examples = try Self.documentExamples()
        #expect(examples.count == 2)
        let prediction = try PredictionMessage.decode(json: examples[0])
        #expect(prediction == Self.prediction)
        let status = try StatusMessage.decode(json: examples[1])
        #expect(status.sensors["cam0"] == Self.status.sensors["cam0"])
        #expect(status.malformed == Self.status.malformed)
        for (example, name) in zip(examples, ["prediction.schema.json", "status.schema.json"]) {
            let schema = try Self.schema(name)
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(example))
            #expect(MiniSchemaValidator(root: schema).problems(value, schema) == [], "\(name)")
        }

        #expect(try Self.tableKeys(after: "## 6. Predictions") == PredictionMessage.keys)
        #expect(try Self.tableKeys(after: "## 7. Status") == StatusMessage.keys)
        #expect(try Self.tableKeys(after: "## 7. Status", skippingTables: 1) == StatusMessage.SensorStatus.keys)
        #expect(try Self.tableKeys(after: "### 4.5 Rejections") == WireRejection.Reason.all.map(\.name))
    }
}
