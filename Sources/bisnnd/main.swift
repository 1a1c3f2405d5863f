import EventStream

// The service arrives with the ZeroMQ issue; until then bisnnd only reports its version.
print("bisnnd \(BisnnVersion.current)")
