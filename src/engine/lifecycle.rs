//! The experiment lifecycle as a pure state machine: inputs in, commands out. The runner executes
//! the commands and feeds back what happened; nothing here does I/O.

use crate::domain::status::{ProbeSummary, resilience_score};
use crate::domain::{Phase, ProbeSpec, Status, Verdict, VerdictKind};
use crate::safety::emergency::StopReason;
use crate::store::records::ProbeSample;

/// Why the run is heading to rollback.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// The fault was held for its duration.
    Normal,
    /// Stopped early.
    Stopped(StopReason),
    /// An injection step failed.
    InjectFailed(String),
    /// A start-of-test probe failed, so nothing was injected.
    SteadyStateFailed(String),
}

/// Where the run is.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    /// Not started.
    Pending,
    /// In a phase before rollback.
    In(Phase),
    /// Rolling back.
    RollingBack(Ending),
    /// Checking recovery and computing the verdict.
    Verifying(Ending, usize),
    /// Finished.
    Done(Status),
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Begin.
    Start,
    /// SOT probes passed.
    SteadyStateHeld,
    /// An SOT probe failed.
    SteadyStateBroken(String),
    /// The hypothesis was recorded.
    HypothesisRecorded,
    /// Every step was injected.
    Injected,
    /// A step failed to inject.
    InjectFailed(String),
    /// The fault duration passed.
    ObserveElapsed,
    /// Stop early.
    Stop(StopReason),
    /// Rollback finished with this many failed steps.
    RolledBack {
        /// Steps that could not be reverted.
        failed: usize,
    },
    /// Recovery checks done.
    Verified,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Record and announce a phase.
    EnterPhase(Phase),
    /// Run start-of-test probes.
    CheckSteadyState,
    /// Record the hypothesis.
    RecordHypothesis,
    /// Inject the plan, step by step.
    Inject,
    /// Hold the fault for its duration.
    Observe,
    /// Revert every open journal entry, last first.
    Rollback,
    /// Run end-of-test probes.
    Verify,
    /// Record the final status.
    Finish {
        /// Final status.
        status: Status,
        /// Why it ended early, if it did.
        abort_reason: Option<String>,
        /// What went wrong, if anything.
        error: Option<String>,
    },
}

fn to_rollback(e: Ending) -> (State, Vec<Command>) {
    (
        State::RollingBack(e),
        vec![Command::EnterPhase(Phase::Rollback), Command::Rollback],
    )
}

/// One transition.
pub fn step(state: &State, input: Input) -> (State, Vec<Command>) {
    use Input as I;
    use State as S;
    match (state, input) {
        (S::Pending, I::Start) => (
            S::In(Phase::SteadyState),
            vec![
                Command::EnterPhase(Phase::SteadyState),
                Command::CheckSteadyState,
            ],
        ),
        (S::In(Phase::SteadyState), I::SteadyStateHeld) => (
            S::In(Phase::Hypothesis),
            vec![
                Command::EnterPhase(Phase::Hypothesis),
                Command::RecordHypothesis,
            ],
        ),
        (S::In(Phase::SteadyState), I::SteadyStateBroken(why)) => {
            to_rollback(Ending::SteadyStateFailed(why))
        }
        (S::In(Phase::Hypothesis), I::HypothesisRecorded) => (
            S::In(Phase::Inject),
            vec![Command::EnterPhase(Phase::Inject), Command::Inject],
        ),
        (S::In(Phase::Inject), I::Injected) => (
            S::In(Phase::Observe),
            vec![Command::EnterPhase(Phase::Observe), Command::Observe],
        ),
        (S::In(Phase::Inject), I::InjectFailed(e)) => to_rollback(Ending::InjectFailed(e)),
        (S::In(Phase::Observe), I::ObserveElapsed) => to_rollback(Ending::Normal),
        (S::In(_), I::Stop(r)) => to_rollback(Ending::Stopped(r)),
        // Already rolling back: an emergency stop still marks the run as emergency-stopped.
        (S::RollingBack(e), I::Stop(r @ StopReason::EmergencyStop(_)))
            if !matches!(e, Ending::Stopped(StopReason::EmergencyStop(_))) =>
        {
            (S::RollingBack(Ending::Stopped(r)), vec![])
        }
        (S::RollingBack(e), I::RolledBack { failed }) => {
            (S::Verifying(e.clone(), failed), vec![Command::Verify])
        }
        (S::Verifying(e, failed), I::Verified) => {
            let (status, abort_reason, error) = outcome(e, *failed);
            (
                S::Done(status),
                vec![Command::Finish {
                    status,
                    abort_reason,
                    error,
                }],
            )
        }
        (s, _) => (s.clone(), vec![]),
    }
}

fn outcome(e: &Ending, failed: usize) -> (Status, Option<String>, Option<String>) {
    let rollback_err = (failed > 0).then(|| {
        format!("{failed} undo step(s) failed and stay in the journal; run `chaosduck recover` once the cause is fixed")
    });
    match e {
        _ if failed > 0 => {
            let reason = match e {
                Ending::Stopped(r) => Some(r.to_string()),
                _ => None,
            };
            (Status::Failed, reason, rollback_err)
        }
        Ending::Normal => (Status::Completed, None, None),
        Ending::Stopped(r) => (r.status(), Some(r.to_string()), None),
        Ending::SteadyStateFailed(w) => (
            Status::Aborted,
            Some(format!("steady state did not hold before injection: {w}")),
            None,
        ),
        Ending::InjectFailed(w) => (
            Status::Failed,
            None,
            Some(format!(
                "injection failed: {w}; everything injected was rolled back"
            )),
        ),
    }
}

/// How the journal ended, for the score.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RollbackTally {
    /// Steps verified reverted.
    pub reverted: usize,
    /// Steps in the journal.
    pub steps: usize,
}

/// The verdict from how the run ended, the probe samples it recorded and the rollback tally.
pub fn verdict(
    ending: &Ending,
    probes: &[ProbeSpec],
    samples: &[ProbeSample],
    tally: RollbackTally,
) -> Verdict {
    let mut reasons = Vec::new();
    let mut summaries = Vec::new();
    let mut rates = Vec::new();
    let mut end_ok: Option<bool> = None;
    let mut violated = false;
    let mut unevaluated = false;
    for p in probes {
        let mine: Vec<&ProbeSample> = samples.iter().filter(|s| s.probe == p.name).collect();
        let judged: Vec<&&ProbeSample> = mine.iter().filter(|s| !s.skipped).collect();
        let passed = judged.iter().filter(|s| s.passed).count();
        let rate = (!judged.is_empty()).then(|| passed as f64 / judged.len() as f64);
        summaries.push(ProbeSummary {
            name: p.name.clone(),
            samples: judged.len(),
            passed,
            pass_rate: rate,
        });
        if let Some(r) = rate {
            rates.push(r);
        }
        for s in judged
            .iter()
            .filter(|s| s.phase == Phase::Rollback && p.runs_at_end())
        {
            end_ok = Some(end_ok.unwrap_or(true) && s.passed);
        }
        if mine.iter().any(|s| s.skipped) {
            unevaluated = true;
            let why = mine
                .iter()
                .find_map(|s| s.error.clone())
                .unwrap_or_default();
            reasons.push(format!("probe {} could not be evaluated: {why}", p.name));
        } else if judged.is_empty() {
            unevaluated = true;
            reasons.push(format!("probe {} took no sample", p.name));
        } else if passed < judged.len() {
            violated = true;
            reasons.push(format!(
                "probe {} failed {} of {} samples",
                p.name,
                judged.len() - passed,
                judged.len()
            ));
        } else {
            reasons.push(format!(
                "probe {} passed {passed} of {passed} samples",
                p.name
            ));
        }
    }
    let score = resilience_score(&rates, end_ok, tally.reverted, tally.steps);
    let done = |kind, reasons| Verdict {
        kind,
        reasons,
        probes: summaries.clone(),
        score,
    };
    if probes.is_empty() {
        return done(
            VerdictKind::Inconclusive,
            vec!["no probes are defined, so nothing judged the hypothesis; add probes to the experiment".into()],
        );
    }
    if let Ending::SteadyStateFailed(w) = ending {
        return done(
            VerdictKind::Inconclusive,
            vec![format!(
                "the steady state did not hold before injection ({w}), so the fault was not injected"
            )],
        );
    }
    if let Ending::Stopped(StopReason::ProbeFailed(p)) = ending {
        violated = true;
        reasons.insert(
            0,
            format!("probe {p} crossed its failure threshold and stopped the run"),
        );
    }
    let kind = if violated {
        VerdictKind::Violated
    } else if unevaluated {
        VerdictKind::Inconclusive
    } else if let Ending::Stopped(r) = ending {
        reasons.insert(0, format!("the run ended early: {r}"));
        VerdictKind::Inconclusive
    } else if let Ending::InjectFailed(w) = ending {
        reasons.insert(0, format!("the fault was not fully injected: {w}"));
        VerdictKind::Inconclusive
    } else {
        VerdictKind::Held
    };
    done(kind, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(inputs: Vec<Input>) -> (State, Vec<Command>) {
        let mut s = State::Pending;
        let mut all = Vec::new();
        for i in inputs {
            let (n, c) = step(&s, i);
            s = n;
            all.extend(c);
        }
        (s, all)
    }

    #[test]
    fn happy_path_visits_five_phases_in_order() {
        let (s, cmds) = run(vec![
            Input::Start,
            Input::SteadyStateHeld,
            Input::HypothesisRecorded,
            Input::Injected,
            Input::ObserveElapsed,
            Input::RolledBack { failed: 0 },
            Input::Verified,
        ]);
        assert_eq!(s, State::Done(Status::Completed));
        let phases: Vec<Phase> = cmds
            .iter()
            .filter_map(|c| {
                if let Command::EnterPhase(p) = c {
                    Some(*p)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(phases, Phase::ALL.to_vec());
    }

    #[test]
    fn stop_during_observe_rolls_back_and_ends_by_reason() {
        let (s, _) = run(vec![
            Input::Start,
            Input::SteadyStateHeld,
            Input::HypothesisRecorded,
            Input::Injected,
            Input::Stop(StopReason::EmergencyStop("key".into())),
            Input::RolledBack { failed: 0 },
            Input::Verified,
        ]);
        assert_eq!(s, State::Done(Status::EmergencyStopped));
        let (s, _) = run(vec![
            Input::Start,
            Input::Stop(StopReason::Timeout("2m".into())),
            Input::RolledBack { failed: 0 },
            Input::Verified,
        ]);
        assert_eq!(s, State::Done(Status::Aborted));
    }

    #[test]
    fn failed_undo_makes_the_run_failed_whatever_the_ending() {
        let (s, cmds) = run(vec![
            Input::Start,
            Input::SteadyStateHeld,
            Input::HypothesisRecorded,
            Input::Injected,
            Input::ObserveElapsed,
            Input::RolledBack { failed: 2 },
            Input::Verified,
        ]);
        assert_eq!(s, State::Done(Status::Failed));
        assert!(
            cmds.iter().any(
                |c| matches!(c, Command::Finish { error: Some(e), .. } if e.contains("recover"))
            )
        );
    }

    #[test]
    fn injection_failure_and_broken_steady_state_still_roll_back() {
        let (s, cmds) = run(vec![
            Input::Start,
            Input::SteadyStateHeld,
            Input::HypothesisRecorded,
            Input::InjectFailed("boom".into()),
        ]);
        assert_eq!(s, State::RollingBack(Ending::InjectFailed("boom".into())));
        assert!(cmds.contains(&Command::Rollback));
        let (s, _) = run(vec![
            Input::Start,
            Input::SteadyStateBroken("probe x".into()),
            Input::RolledBack { failed: 0 },
            Input::Verified,
        ]);
        assert_eq!(s, State::Done(Status::Aborted));
    }

    #[test]
    fn emergency_stop_during_rollback_upgrades_the_status() {
        let (s, _) = run(vec![
            Input::Start,
            Input::SteadyStateHeld,
            Input::HypothesisRecorded,
            Input::Injected,
            Input::ObserveElapsed,
            Input::Stop(StopReason::EmergencyStop("socket".into())),
            Input::RolledBack { failed: 0 },
            Input::Verified,
        ]);
        assert_eq!(s, State::Done(Status::EmergencyStopped));
    }

    fn sample(probe: &str, phase: Phase, passed: bool) -> ProbeSample {
        ProbeSample {
            probe: probe.into(),
            kind: "cmd".into(),
            mode: crate::domain::ProbeMode::Continuous,
            phase,
            at: 0,
            passed,
            value: None,
            error: None,
            skipped: false,
        }
    }

    fn probe(name: &str, mode: crate::domain::ProbeMode) -> ProbeSpec {
        let y = format!("name: {name}\nmode: {mode}\ninterval: 1s\ncmd: {{argv: [\"true\"]}}\n");
        serde_norway::from_str(&y).unwrap()
    }

    #[test]
    fn score_follows_the_documented_formula() {
        use crate::domain::ProbeMode::{Continuous, Edge};
        let probes = vec![probe("a", Continuous), probe("b", Edge)];
        let samples = vec![
            sample("a", Phase::Observe, true),
            sample("a", Phase::Observe, false),
            sample("b", Phase::SteadyState, true),
            sample("b", Phase::Rollback, true),
        ];
        let v = verdict(
            &Ending::Normal,
            &probes,
            &samples,
            RollbackTally {
                reverted: 2,
                steps: 2,
            },
        );
        assert_eq!(v.kind, VerdictKind::Violated);
        // P = (0.5 + 1.0) / 2 = 0.75; E = 1; R = 1 -> 100 × (0.375 + 0.3 + 0.2) = 87.5 -> 88
        assert_eq!(v.score, Some(88));
        assert_eq!(v.probes[0].pass_rate, Some(0.5));
        let v = verdict(
            &Ending::Normal,
            &probes,
            &samples,
            RollbackTally {
                reverted: 1,
                steps: 2,
            },
        );
        assert_eq!(v.score, Some(78));
        let v = verdict(&Ending::Normal, &[], &[], RollbackTally::default());
        assert_eq!(v.score, None, "no evidence, no number");
        assert_eq!(v.kind, VerdictKind::Inconclusive);
    }

    #[test]
    fn inputs_out_of_order_change_nothing() {
        let (s, c) = step(&State::Pending, Input::Injected);
        assert_eq!(s, State::Pending);
        assert!(c.is_empty());
        let (s, c) = step(&State::Done(Status::Completed), Input::Start);
        assert_eq!(s, State::Done(Status::Completed));
        assert!(c.is_empty());
    }
}
