//! Where each field of a YAML document is: a map from field paths (`spec.probes[0].name`) to
//! line and column, so every problem can be reported at its place in the file.

use saphyr_parser::{Event, Parser, Span};
use std::collections::HashMap;

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub line: usize,
    pub column: usize,
}

impl Loc {
    fn from_span(s: &Span) -> Self {
        Loc {
            line: s.start.line(),
            column: s.start.col() + 1,
        }
    }
}

/// Positions of keys and values by field path.
#[derive(Debug, Default)]
pub struct YamlIndex {
    values: HashMap<String, Loc>,
    keys: HashMap<String, Loc>,
    /// Number of documents in the stream.
    pub documents: usize,
    /// Whether the first document has any content.
    pub empty: bool,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A YAML syntax error with its place.
#[derive(Debug)]
pub struct SyntaxError {
    pub loc: Loc,
    pub message: String,
}

impl YamlIndex {
    /// Reads the whole stream; fails on the first syntax error.
    pub fn build(text: &str) -> Result<Self, SyntaxError> {
        let mut idx = YamlIndex {
            empty: true,
            ..Default::default()
        };
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let (ev, span) = item.map_err(|e| SyntaxError {
                loc: Loc {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                },
                message: e.info().to_string(),
            })?;
            match ev {
                Event::DocumentStart(_) => {
                    idx.documents += 1;
                    stack.clear();
                }
                Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..) => {
                    if idx.documents > 1 {
                        continue;
                    }
                    let loc = Loc::from_span(&span);
                    // A scalar in key position names the next value.
                    if let Some(Frame::Map { path, key }) = stack.last_mut()
                        && key.is_none()
                    {
                        let k = match &ev {
                            Event::Scalar(s, ..) => s.to_string(),
                            _ => "?".to_string(),
                        };
                        idx.keys.insert(join(path, &k), loc);
                        *key = Some(k);
                        if let Event::MappingStart(..) | Event::SequenceStart(..) = ev {
                            // Complex keys are not used by experiment files; index nothing inside.
                            let p = join(path, "?");
                            stack.push(match ev {
                                Event::MappingStart(..) => Frame::Map { path: p, key: None },
                                _ => Frame::Seq { path: p, index: 0 },
                            });
                        }
                        continue;
                    }
                    let path = match stack.last() {
                        None => String::new(),
                        Some(Frame::Map { path, key }) => join(path, key.as_deref().unwrap_or("?")),
                        Some(Frame::Seq { path, index }) => format!("{path}[{index}]"),
                    };
                    idx.empty = false;
                    idx.values.entry(path.clone()).or_insert(loc);
                    match ev {
                        Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
                        Event::SequenceStart(..) => stack.push(Frame::Seq { path, index: 0 }),
                        _ => advance(&mut stack),
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    if idx.documents > 1 {
                        continue;
                    }
                    stack.pop();
                    advance(&mut stack);
                }
                _ => {}
            }
        }
        Ok(idx)
    }

    /// Where the value at `path` starts, or the nearest enclosing field that exists.
    pub fn value(&self, path: &str) -> Option<Loc> {
        let mut p = path.to_string();
        loop {
            if let Some(l) = self.values.get(&p) {
                return Some(*l);
            }
            p = parent(&p)?;
        }
    }

    /// Where the key of `path` is written, if it is.
    pub fn key(&self, path: &str) -> Option<Loc> {
        self.keys.get(path).copied()
    }
}

fn advance(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key, .. }) => *key = None,
        Some(Frame::Seq { index, .. }) => *index += 1,
        None => {}
    }
}

fn parent(p: &str) -> Option<String> {
    if p.is_empty() {
        return None;
    }
    let cut = p.rfind(['.', '[']).unwrap_or(0);
    Some(p[..cut].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_nested_paths() {
        let y = "a: 1\nb:\n  c: [x, y]\n  d:\n    - e: 2\n      f: 3\n";
        let idx = YamlIndex::build(y).unwrap();
        assert_eq!(idx.value("a"), Some(Loc { line: 1, column: 4 }));
        assert_eq!(
            idx.value("b.c[1]"),
            Some(Loc {
                line: 3,
                column: 10
            })
        );
        assert_eq!(
            idx.value("b.d[0].f"),
            Some(Loc {
                line: 6,
                column: 10
            })
        );
        assert_eq!(idx.key("b.d[0].f"), Some(Loc { line: 6, column: 7 }));
        assert_eq!(
            idx.value("b.d[0].zz"),
            Some(Loc { line: 5, column: 7 }),
            "falls back to the parent"
        );
    }

    #[test]
    fn reports_syntax_errors_with_place() {
        let Err(e) = YamlIndex::build("a: [1, 2\nb: 3\n") else {
            panic!("expected a syntax error")
        };
        assert!(e.loc.line >= 1);
        assert!(!e.message.is_empty());
    }
}
