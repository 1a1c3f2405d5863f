extension ServiceConfiguration {
    /// Checks what single values cannot: that there is an input, that no two sockets bind the same address,
    /// that a crop offset has a crop. Each value's own range is checked when it is read (``load(file:environment:)``);
    /// what depends on the model is checked by ``LoadedServiceConfiguration/load(file:environment:)``.
    ///
    /// Returns ``warnings``: the explicit choices to log at start. The error names the key; its
    /// ``ConfigurationError/source`` is nil (the loader fills it in).
    @discardableResult
    public func validate() throws(ConfigurationError) -> [ConfigurationWarning] {
        func fail(_ key: String, _ why: String) -> ConfigurationError {
            ConfigurationError(.invalidValue, key: key, why)
        }
        if input.pullBind.isEmpty && input.subConnect.isEmpty {
            throw fail("input.pull_bind", "no input: input.pull_bind and input.sub_connect are both empty")
        }
        try checkSecurity()

        // Every address this process binds, in key order; a later one may not take an earlier one's address.
        var bound: [(key: String, endpoint: Endpoint)] = input.pullBind.map { ("input.pull_bind", $0) }
        bound.append(("output.pub_bind", output.pubBind))
        if metrics.enabled {
            bound.append(("metrics.listen", Endpoint(transport: .tcp, address: metrics.listen.description)))
        }
        for (index, (key, endpoint)) in bound.enumerated() {
            for (otherKey, other) in bound[..<index] where Self.conflict(endpoint, other) {
                let place = otherKey == key ? "earlier in \(key)" : "by \(otherKey)"
                throw fail(key, "\(endpoint) overlaps \(other), bound \(place)")
            }
        }

        if sensor.cropWidth == 0 && sensor.cropX != 0 {
            throw fail("sensor.crop_x", "must be 0 while sensor.crop_width is 0 (a centred crop); got \(sensor.cropX)")
        }
        if sensor.cropHeight == 0 && sensor.cropY != 0 {
            throw fail("sensor.crop_y", "must be 0 while sensor.crop_height is 0 (a centred crop); got \(sensor.cropY)")
        }
        if sensor.width != 0, sensor.cropX + sensor.cropWidth > sensor.width {
            throw fail(sensor.cropX == 0 ? "sensor.crop_width" : "sensor.crop_x",
                       "columns \(sensor.cropX)..<\(sensor.cropX + sensor.cropWidth) lie outside the "
                       + "\(sensor.width)-pixel-wide sensor")
        }
        if sensor.height != 0, sensor.cropY + sensor.cropHeight > sensor.height {
            throw fail(sensor.cropY == 0 ? "sensor.crop_height" : "sensor.crop_y",
                       "rows \(sensor.cropY)..<\(sensor.cropY + sensor.cropHeight) lie outside the "
                       + "\(sensor.height)-pixel-high sensor")
        }
        return warnings
    }

    /// Whether two bound endpoints would take the same address: the same endpoint, or TCP on the same port
    /// where the hosts are equal or either is a wildcard.
    static func conflict(_ a: Endpoint, _ b: Endpoint) -> Bool {
        if a == b { return true }
        guard a.transport == .tcp, b.transport == .tcp, let pa = a.port, let pb = b.port, pa == pb else { return false }
        let wildcards: Set<String> = ["*", "0.0.0.0", "[::]"]
        let hostA = String(a.address.dropLast(":\(pa)".count))
        let hostB = String(b.address.dropLast(":\(pb)".count))
        return hostA == hostB || wildcards.contains(hostA) || wildcards.contains(hostB)
    }

    /// Choices the daemon logs at start: addresses reachable from other machines, remote sensors (which the
    /// shipped systemd unit's `IPAddressAllow=localhost` blocks until a drop-in allows them), windows that leave
    /// gaps.
    public var warnings: [ConfigurationWarning] {
        var warnings: [ConfigurationWarning] = []
        let unit = "the shipped systemd unit allows only loopback traffic (IPAddressAllow=localhost); "
            + "allow more in a drop-in"
        for endpoint in input.pullBind where !endpoint.isLocal {
            warnings.append(ConfigurationWarning(
                key: "input.pull_bind", "binds \(endpoint), which other machines can reach; \(unit)"))
        }
        for endpoint in input.subConnect where !endpoint.isLocal {
            warnings.append(ConfigurationWarning(
                key: "input.sub_connect", "connects to \(endpoint) on another machine; \(unit)"))
        }
        if !output.pubBind.isLocal {
            warnings.append(ConfigurationWarning(
                key: "output.pub_bind", "binds \(output.pubBind), which other machines can reach; \(unit)"))
        }
        if metrics.enabled && !metrics.listen.isLoopback {
            warnings.append(ConfigurationWarning(
                key: "metrics.listen", "serves metrics on \(metrics.listen), which other machines can reach; \(unit)"))
        }
        if decisions.mode == .window && decisions.intervalMilliseconds > decisions.windowMilliseconds {
            warnings.append(ConfigurationWarning(
                key: "decisions.interval_ms",
                "\(decisions.intervalMilliseconds) ms between windows of \(decisions.windowMilliseconds) ms: "
                    + "events between windows are never seen"))
        }
        return warnings
    }
}
