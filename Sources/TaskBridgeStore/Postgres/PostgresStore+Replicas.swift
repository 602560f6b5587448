import PostgresNIO
import TaskBridgeCore

/// What lets replicas cooperate beyond the job table: wake-ups and exclusive holds, each
/// on a connection of its own (a `LISTEN` and a session advisory lock belong to one
/// session, which a pooled connection is not).
extension PostgresStore {
    public func listenForWork(_ onWork: @escaping @Sendable () -> Void) async {
        var backoff = 0.5
        var failing = false
        while !Task.isCancelled {
            var opened: PostgresConnection?
            do {
                let conn = try await sideConnection()
                opened = conn
                try await withTaskCancellationHandler {
                    try await conn.listen(on: PostgresSchema.workChannel) { notifications in
                        if failing { logger.notice("listening for work from other replicas again") }
                        failing = false
                        backoff = 0.5
                        // Work may have been committed while nobody listened.
                        onWork()
                        for try await _ in notifications { onWork() }
                    }
                } onCancel: {
                    let _: EventLoopFuture<Void> = conn.close()
                }
                try? await conn.close()
            } catch {
                // A refused LISTEN (a standby after a failover) leaves the session open.
                if let opened { try? await opened.close() }
                if Task.isCancelled { return }
                if !failing {
                    logger.warning("cannot listen for work from other replicas; polling until it can",
                                   metadata: ["error": "\(PostgresErrorText.describe(error))"])
                }
                failing = true
            }
            try? await Task.sleep(nanoseconds: backoff.sleepNanoseconds(atMost: 30))
            backoff = min(backoff * 2, 30)
        }
    }

    /// A session advisory lock per name, tried with `pg_try_advisory_lock` every 5 s
    /// until it is free. While held, the session is checked every second (each check
    /// with a one-second limit); if it is gone (the database restarted, the network
    /// dropped), `body` is cancelled, because another replica may take the lock over.
    public func runExclusively(_ name: String, _ body: @escaping @Sendable () async -> Void) async {
        var waitingLogged = false
        while !Task.isCancelled {
            let conn: PostgresConnection
            do {
                conn = try await sideConnection()
            } catch {
                logger.warning("cannot take the hold on \(name): \(PostgresErrorText.describe(error)); trying again")
                try? await Task.sleep(nanoseconds: 5_000_000_000)
                continue
            }
            let got: Bool
            do {
                got = try await conn.query("SELECT pg_try_advisory_lock(\(Self.exclusiveKey(name))) AS got",
                                           logger: logger).columns().first?.optional("got", as: Bool.self) ?? false
            } catch {
                try? await conn.close()
                logger.warning("cannot take the hold on \(name): \(PostgresErrorText.describe(error)); trying again")
                try? await Task.sleep(nanoseconds: 5_000_000_000)
                continue
            }
            guard got else {
                try? await conn.close()
                if !waitingLogged { logger.notice("another replica runs \(name); this one takes over if it stops") }
                waitingLogged = true
                try? await Task.sleep(nanoseconds: 5_000_000_000)
                continue
            }
            waitingLogged = false
            // A holder that lost its session notices within `checkSeconds` twice over
            // (a check, and its timeout); waiting longer than that before starting means
            // the two never run at once when the lock passes after a database restart.
            try? await Task.sleep(nanoseconds: UInt64(Self.checkSeconds * 2.5 * 1e9))
            if Task.isCancelled { try? await conn.close(); return }
            logger.notice("this replica runs \(name)")
            let lost = await withTaskGroup(of: Bool.self) { group -> Bool in
                group.addTask { await body(); return false }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(nanoseconds: UInt64(Self.checkSeconds * 1e9))
                        if Task.isCancelled { return false }
                        if await !self.sessionAnswers(conn) { return true }
                    }
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            try? await conn.close()
            if !lost { return }
            logger.error("lost the hold on \(name) (the database connection dropped); stopped it here until the hold is taken again")
        }
    }

    /// How often a hold's session is checked, and how long a check may take.
    static let checkSeconds = 1.0

    /// `SELECT 1` within ``checkSeconds``: a dead network path would otherwise leave the
    /// check (and the hold) hanging while another replica takes the lock.
    func sessionAnswers(_ conn: PostgresConnection) async -> Bool {
        await withTaskGroup(of: Bool?.self) { group in
            group.addTask { (try? await conn.query("SELECT 1", logger: self.logger)) != nil }
            group.addTask {
                try? await Task.sleep(nanoseconds: UInt64(Self.checkSeconds * 1e9))
                return Task.isCancelled ? nil : false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            if first == false { let _: EventLoopFuture<Void> = conn.close() }
            return first ?? false
        }
    }

    /// A 64-bit lock key for a name (FNV-1a): distinct names do not share a lock, as
    /// they could under `hashtext`'s 32 bits. PostgreSQL keeps single 64-bit keys apart
    /// from the two-part keys the other locks use.
    static func exclusiveKey(_ name: String) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in ("taskbridge exclusive " + name).utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return Int64(bitPattern: h)
    }
}
