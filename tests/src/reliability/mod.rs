//! The reliability suite (`make reliability`): scripted faults against the local stack,
//! each scenario ending in a count of what must exist exactly once.
//!
//! A scenario drives the real code: the functions' handlers (the code Lambda runs) in
//! this process, fed from the real queues by the local event router's poll loop, against
//! the real PostgreSQL, moto's S3 and SQS, and the simulators over HTTP. It injects its
//! fault (a redelivery, a restart, a simulator switch, a consumer stopped mid-work), lets
//! redelivery do its work, then reads the end state from the database, the queues and the
//! simulators' records. Nothing is assumed: what is not found is lost, what is found
//! twice is doubled.
//!
//! Layout:
//! - [`stack`]: the suite's stack (read from the environment `tests/reliability.sh`
//!   exports), the functions in process, restarts, the simulators' control API.
//! - [`tally`]: what a scenario found against what it expected.
//! - [`scenarios`]: the scenarios, in the order they run.

pub mod scenarios;
pub mod stack;
pub mod tally;

/// Why a scenario could not run to its count (not a lost or doubled item: the suite
/// reports it apart and fails).
pub type ScenarioError = Box<dyn std::error::Error + Send + Sync>;
