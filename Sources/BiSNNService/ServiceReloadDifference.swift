/// What a reload (SIGHUP) cannot apply to a running service: settings of sockets the service keeps open
/// (endpoints, high-water marks, the message size limit, whether they are CURVE servers and with which key), the
/// metrics endpoint and logging, which are set up once at start. Everything else (`service.*`, `model.*`, `decisions.*`, `sensor.*`, `input.max_sensors`) applies at
/// once.
public struct ServiceReloadDifference: Sendable, Hashable {
    /// The keys whose value changed and that take effect only at the next restart, in the order of
    /// ``ServiceConfiguration/keys``.
    public let restartKeys: [String]

    /// Compares the running configuration with a reloaded one.
    public init(running: ServiceConfiguration, reloaded: ServiceConfiguration) {
        var changed: Set<String> = []
        func note(_ key: String, _ differs: Bool) { if differs { changed.insert(key) } }
        note("input.pull_bind", running.input.pullBind != reloaded.input.pullBind)
        note("input.sub_connect", running.input.subConnect != reloaded.input.subConnect)
        note("input.receive_hwm", running.input.receiveHighWaterMark != reloaded.input.receiveHighWaterMark)
        note("input.max_message_bytes", running.input.maxMessageBytes != reloaded.input.maxMessageBytes)
        note("input.queue_bytes", running.input.queueBytes != reloaded.input.queueBytes)
        note("output.pub_bind", running.output.pubBind != reloaded.output.pubBind)
        note("output.send_hwm", running.output.sendHighWaterMark != reloaded.output.sendHighWaterMark)
        note("metrics.enabled", running.metrics.enabled != reloaded.metrics.enabled)
        note("metrics.listen", running.metrics.listen != reloaded.metrics.listen)
        note("log.level", running.log.level != reloaded.log.level)
        note("log.format", running.log.format != reloaded.log.format)
        // The sockets are CURVE servers (or not) with the key they were bound with; the allow-list applies at once.
        note("security.curve.enabled", running.security.curve.enabled != reloaded.security.curve.enabled)
        note("security.curve.secret_key_file", running.security.curve.secretKeyFile != reloaded.security.curve.secretKeyFile)
        restartKeys = ServiceConfiguration.keys.filter { changed.contains($0) }
    }
}
