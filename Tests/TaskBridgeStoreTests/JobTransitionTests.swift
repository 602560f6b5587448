import Testing
import TaskBridgeCore
@testable import TaskBridgeStore

/// The SQL both stores run takes its states from Core's `JobState` table: these pin
/// what that table says, so a change to it shows up here and in both stores at once.
@Suite struct JobTransitionTests {
    @Test func everyReportIsAllowedFromRunningAndLandsWhereTheStateMachineSays() {
        for t in JobTransition.allCases {
            #expect(JobState.running.on(t.event) != nil, "\(t) is not a transition from running")
        }
        let expected: [JobTransition: JobState] = [
            .progressed: .running, .succeeded: .succeeded, .retry: .pending, .dead: .dead,
            .released: .pending, .deferred: .pending, .waiting: .waiting,
        ]
        for (t, state) in expected { #expect(t.to == state, "\(t)") }
        #expect(expected.count == JobTransition.allCases.count)
    }

    @Test func claimsOrderingRecoveryAndRetriesUseTheMachinesStates() {
        #expect(JobTransition.claimable == [.pending, .waiting])
        #expect(JobTransition.open == [.pending, .running, .waiting])
        #expect(JobTransition.recovered == .pending)
        #expect(JobTransition.retried == .pending)
        #expect(JobTransition.list(JobTransition.claimable) == "'pending', 'waiting'")
    }

    @Test func eachReportSetsItsStateAndTheDialectsLargerOf() {
        #expect(JobTransition.succeeded.setClause(.postgres).hasPrefix("state = 'succeeded', "))
        #expect(JobTransition.released.setClause(.sqlite).contains("uncertain = MAX(uncertain, v.column3)"))
        #expect(JobTransition.released.setClause(.postgres).contains("uncertain = GREATEST(uncertain, v.column3)"))
        // Every column a clause reads is one its rows carry.
        for t in JobTransition.allCases {
            let clause = t.setClause(.postgres)
            for n in 1...9 where clause.contains("v.column\(n)") { #expect(n <= t.columns, "\(t) reads v.column\(n)") }
        }
    }
}
