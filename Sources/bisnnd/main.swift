import EventStream

// The service arrives with the ZeroMQ issue; until then bisnnd reports its version.
print("bisnnd \(BisnnVersion.current)")
