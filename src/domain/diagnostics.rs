//! Reading experiment files and reporting every problem with file, line, column and field path.

use super::experiment::ExperimentDoc;
use super::fault;
use super::yaml_index::{Loc, YamlIndex};
use serde::Serialize;
use std::fmt;
use std::path::Path;

/// One problem in an experiment file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file as given by the user.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted field path, e.g. `spec.fault.latency`; empty for the whole document.
    pub path: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Reads and validates a file; every problem is returned, none is fatal to the others.
pub fn load_experiment_file(path: &Path) -> Result<ExperimentDoc, Vec<Diagnostic>> {
    let label = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_experiment(&label, &text),
        Err(e) => Err(vec![Diagnostic {
            file: label,
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("cannot read the file: {e}"),
        }]),
    }
}

/// Parses and validates experiment YAML. `file` is only used in messages.
pub fn parse_experiment(file: &str, text: &str) -> Result<ExperimentDoc, Vec<Diagnostic>> {
    let diag = |loc: Option<Loc>, path: &str, message: String| {
        let loc = loc.map_or(Loc { line: 1, column: 1 }, |l| inside(text, l));
        Diagnostic {
            file: file.to_string(),
            line: loc.line,
            column: loc.column,
            path: path.to_string(),
            message,
        }
    };
    let index = match YamlIndex::build(text) {
        Ok(i) => i,
        Err(e) => {
            return Err(vec![diag(
                Some(e.loc),
                "",
                format!(
                    "YAML syntax error: {}; check the indentation and brackets here",
                    e.message
                ),
            )]);
        }
    };
    if index.empty {
        return Err(vec![diag(
            None,
            "",
            "the file is empty; start from `chaosduck schema` or an example in experiments/".into(),
        )]);
    }
    if index.documents > 1 {
        return Err(vec![diag(
            None,
            "",
            "the file holds several YAML documents; put one experiment per file".into(),
        )]);
    }
    let de = serde_norway::Deserializer::from_str(text);
    let doc: ExperimentDoc = match serde_path_to_error::deserialize(de) {
        Ok(d) => d,
        Err(e) => {
            let mut path = clean_path(&e.path().to_string());
            let yaml_loc = e.inner().location().map(|l| Loc {
                line: l.line(),
                column: l.column(),
            });
            let mut message = strip_location(&e.inner().to_string());
            // Internally tagged faults hide the field inside; read the variant on its own.
            if path == "spec.fault"
                && let Ok(v) = serde_norway::from_str::<serde_norway::Value>(text)
                && let Some(f) = v.get("spec").and_then(|s| s.get("fault"))
                && let Some((inner, msg)) = fault::diagnose(f)
            {
                let inner = clean_path(&inner);
                if !inner.is_empty() {
                    path = format!("spec.fault.{inner}");
                }
                message = strip_location(&msg);
            }
            // serde_norway prefixes its own copy of the path (sometimes a shorter one).
            if let Some((head, rest)) = message.split_once(": ")
                && !head.is_empty()
                && path.starts_with(head)
                && head
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'))
            {
                message = rest.to_string();
            }
            let loc = locate(&index, &path, &message).or(yaml_loc);
            return Err(vec![diag(loc, &path, explain(&message))]);
        }
    };
    let problems = doc.problems();
    if problems.is_empty() {
        return Ok(doc);
    }
    Err(problems
        .into_iter()
        .map(|(path, msg)| diag(index.value(&path), &path, msg))
        .collect())
}

/// Keeps a place inside the file: the YAML parser reports some errors at the end of the input
/// one line past the last one, which an editor cannot jump to; such a place becomes the end of
/// the last line. Lines end at `\n`, `\r\n` or a lone `\r`, as in YAML.
fn inside(text: &str, loc: Loc) -> Loc {
    let (mut lines, mut last_len) = (1usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            lines += 1;
            last_len = 0;
        } else {
            last_len += 1;
        }
    }
    if loc.line > lines {
        Loc {
            line: lines,
            column: last_len + 1,
        }
    } else {
        Loc {
            line: loc.line.max(1),
            column: loc.column.max(1),
        }
    }
}

/// Finds the best place for a serde error: the unknown key itself, or the value at the path.
fn locate(index: &YamlIndex, path: &str, message: &str) -> Option<Loc> {
    if let Some(field) = between(message, "unknown field `", "`") {
        let p = if path.is_empty() {
            field.to_string()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            path.to_string()
        } else {
            format!("{path}.{field}")
        };
        if let Some(l) = index.key(&p) {
            return Some(l);
        }
    }
    if let Some(variant) = between(message, "unknown variant `", "`") {
        let p = if path.is_empty() {
            variant.to_string()
        } else {
            format!("{path}.{variant}")
        };
        if let Some(l) = index.key(&p) {
            return Some(l);
        }
    }
    index
        .key(path)
        .filter(|_| message.starts_with("missing field"))
        .or_else(|| index.value(path))
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

/// serde_path_to_error writes the root as "." and map keys plainly.
fn clean_path(p: &str) -> String {
    let p = p.trim_start_matches('.');
    if p == "?" {
        String::new()
    } else {
        p.replace(".?", "")
    }
}

fn strip_location(m: &str) -> String {
    match m.find(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}

/// Adds advice to serde's terse messages.
fn explain(m: &str) -> String {
    if m.starts_with("unknown field") {
        format!("{m}; remove it or fix its spelling")
    } else if m.starts_with("unknown variant") {
        if m.contains("pod_delete") {
            format!("{m}; `type` must name one of the fault kinds listed")
        } else {
            format!("{m}; use one of the names listed")
        }
    } else if m.starts_with("missing field") {
        format!("{m}; add it here")
    } else if m.starts_with("invalid type") {
        format!("{m}; check the value's type against `chaosduck schema`")
    } else {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syntax_error_at_the_end_points_inside_the_file() {
        // Found by tests/fuzz_experiment.rs: saphyr puts these one line past the end.
        for (text, line, column) in [
            ("- apiVersion: chaosduck.io/v1\n~", 2, 2),
            ("%⮗a꩜", 1, 5),
            ("a:\r\n  b: 1\r\n  d", 3, 4),
        ] {
            let Err(d) = parse_experiment("f.yaml", text) else {
                panic!("{text:?} must be refused")
            };
            assert_eq!(
                (d[0].line, d[0].column),
                (line, column),
                "{text:?}: {}",
                d[0]
            );
        }
    }
}
