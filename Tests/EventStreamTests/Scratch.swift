import Testing
@testable import EventStream
@Test func placeholder() { #expect(BisnnVersion.current.isEmpty == false) }
