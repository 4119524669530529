//! A server-sent-events parser: bytes in, `(event, data)` out, bounded per event.

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (empty when absent).
    pub event: String,
    /// The `data:` lines joined by newlines.
    pub data: String,
}

/// Incremental parser. Feed it chunks as they arrive.
#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: String,
    max_event: usize,
}

impl SseParser {
    /// A parser that refuses events larger than `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            event: String::new(),
            data: String::new(),
            max_event,
        }
    }

    /// Feeds bytes; returns the events completed by them, or an error for an oversized event.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.is_empty() {
                if !self.data.is_empty() || !self.event.is_empty() {
                    out.push(SseEvent {
                        event: std::mem::take(&mut self.event),
                        data: std::mem::take(&mut self.data),
                    });
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_str(), ""),
            };
            match field {
                "event" => self.event = value.to_string(),
                "data" => {
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                }
                _ => {}
            }
            if self.data.len() > self.max_event {
                return Err(format!("an event exceeded {} bytes", self.max_event));
            }
        }
        if self.buf.len() > self.max_event {
            return Err(format!("a line exceeded {} bytes", self.max_event));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_crlf() {
        let mut p = SseParser::new(1024);
        assert!(
            p.feed(b"event: ping\r\ndata: {\"type\"")
                .unwrap()
                .is_empty()
        );
        let e = p
            .feed(b":\"ping\"}\r\n\r\n: comment\n\nevent: x\ndata: a\ndata: b\n\n")
            .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].event, "ping");
        assert_eq!(e[0].data, "{\"type\":\"ping\"}");
        assert_eq!(e[1].data, "a\nb");
        assert!(SseParser::new(4).feed(b"data: 0123456789\n").is_err());
    }
}
