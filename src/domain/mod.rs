//! The experiment document and the vocabulary every other module speaks: faults with typed
//! parameters, targets, probes, phases, statuses and verdicts.

pub mod amount;
pub mod diagnostics;
pub mod duration;
pub mod experiment;
pub mod fault;
pub mod probe;
pub mod selector;
pub mod status;
pub mod target;
mod yaml_index;

pub use amount::{Amount, ByteSize, Percent};
pub use diagnostics::{Diagnostic, load_experiment_file, parse_experiment};
pub use duration::HumanDuration;
pub use experiment::{API_VERSION, AiSpec, ExperimentDoc, ExperimentSpec, Metadata, SafetySpec};
pub use fault::{FaultKind, FaultSpec};
pub use probe::{ProbeMode, ProbeSpec};
pub use selector::{LabelSelector, Requirement};
pub use status::{Phase, Status, Verdict, VerdictKind};
pub use target::{Target, TargetKind};
