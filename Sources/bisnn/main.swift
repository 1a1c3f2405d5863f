import EventStream
print("bisnn \(BisnnVersion.current)")
