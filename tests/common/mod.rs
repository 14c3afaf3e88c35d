//! Helpers shared by the integration tests (`mod common;` in each file
//! that uses them).

use proptest::prelude::ProptestConfig;

/// `cases` cases. Under Miri: no failure file (isolation leaves no file
/// system nor working directory) and the cheap XorShift generator (ChaCha,
/// the default, costs about ten seconds of interpretation per case).
pub fn proptest_config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(cases);
    if cfg!(miri) {
        config.failure_persistence = None;
        config.rng_algorithm = proptest::test_runner::RngAlgorithm::XorShift;
    }
    config
}
