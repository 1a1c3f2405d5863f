import Testing
import ZeroMQ

@Suite("PUB/SUB", .timeLimit(.minutes(1)))
struct PubSubTests {
    @Test("a subscriber receives only the topics it subscribed to, by prefix")
    func topicFiltering() throws {
        let context = try ZMQContext()
        let pub = try makeSocket(.pub, context)
        try pub.bind("tcp://127.0.0.1:*")
        let sub = try makeSocket(.sub, context)
        try sub.subscribe(Array("sensor-1".utf8))
        try sub.connect(try pub.lastEndpoint)

        // PUB drops everything until the subscription has reached it: publish a probe until one arrives.
        var poller = ZMQPoller([sub])
        var subscribed = false
        for _ in 0..<500 where !subscribed {
            try pub.send([Array("sensor-1".utf8), Array("probe".utf8)])
            subscribed = try poller.poll(timeout: .milliseconds(10)) > 0
        }
        try #require(subscribed)

        for (topic, body) in [("sensor-2", "other"), ("sensor-1", "a"), ("sensor", "shorter"), ("sensor-10", "prefix"),
            ("", "empty"), ("sensor-1", "end")]
        {
            try pub.send([Array(topic.utf8), Array(body.utf8)])
        }
        // One connection keeps order: once "end" is here, everything before it was delivered or filtered out.
        var bodies: [String] = []
        while bodies.last != "end", let message = try sub.receive() {
            let body = String(decoding: message[1], as: UTF8.self)
            if body != "probe" { bodies.append(body) }
        }
        #expect(bodies == ["a", "prefix", "end"])
    }

    @Test("an XPUB sees the subscription arrive, after which nothing published is lost")
    func xpubSeesSubscriptions() throws {
        let context = try ZMQContext()
        let xpub = try makeSocket(.xpub, context)
        try xpub.bind(uniqueInprocEndpoint("xpub"))
        let sub = try makeSocket(.sub, context)
        try sub.connect(try xpub.lastEndpoint)
        try sub.subscribe([7])
        #expect(try xpub.receive() == [[1, 7]])
        try xpub.send([[7, 1]])
        try xpub.send([[8, 2]])
        try xpub.send([[7, 3]])
        #expect(try sub.receive() == [[7, 1]])
        #expect(try sub.receive() == [[7, 3]])
        try sub.unsubscribe([7])
        #expect(try xpub.receive() == [[0, 7]])
    }
}
