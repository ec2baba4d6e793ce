//! Lines of a text extract: reading them with a length cap, decoding UTF-8 or Windows-1252, and
//! splitting them into cells.

use std::io::{self, BufRead};

/// Longest line accepted, in bytes. Real extract lines are under 1 KiB; a longer one is refused
/// on its own instead of being held in memory.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;

/// The character encodings a reader has met so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Only ASCII so far: UTF-8 and Windows-1252 read the same.
    Ascii,
    /// UTF-8 (every non-ASCII line was valid UTF-8).
    Utf8,
    /// Windows-1252 / ISO-8859-1 (no non-ASCII line was valid UTF-8).
    Windows1252,
    /// Some lines were UTF-8 and others were not: each line was decoded on its own.
    Mixed,
}

impl Encoding {
    fn with(self, line: Encoding) -> Encoding {
        match (self, line) {
            (a, Encoding::Ascii) => a,
            (Encoding::Ascii, b) => b,
            (a, b) if a == b => a,
            _ => Encoding::Mixed,
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Ascii => "ASCII",
            Encoding::Utf8 => "UTF-8",
            Encoding::Windows1252 => "Windows-1252",
            Encoding::Mixed => "mixed UTF-8 and Windows-1252",
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One physical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawLine {
    /// The decoded text, without its line end.
    Text(String),
    /// The line was longer than [`MAX_LINE_BYTES`]; its content was skipped.
    TooLong,
}

/// Reads physical lines (ended by `\n`, an optional `\r` before it removed) with their 1-based
/// numbers, decoding each one as UTF-8 when it is valid UTF-8 and as Windows-1252 otherwise.
pub(crate) struct LineReader<R> {
    inner: R,
    line: u64,
    buf: Vec<u8>,
    encoding: Encoding,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_LINE_BYTES)
    }

    pub(crate) fn with_limit(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            line: 0,
            buf: Vec::new(),
            encoding: Encoding::Ascii,
            max,
        }
    }

    /// The encodings met so far.
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The next line and its number, or `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, RawLine)>> {
        self.buf.clear();
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            read_any = true;
            let (chunk, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            if !too_long {
                if self.buf.len() + chunk.len() > self.max {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let used = chunk.len() + usize::from(ended);
            self.inner.consume(used);
            if ended {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.line += 1;
        if too_long {
            return Ok(Some((self.line, RawLine::TooLong)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let mut bytes = self.buf.as_slice();
        if self.line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let (text, encoding) = decode(bytes);
        self.encoding = self.encoding.with(encoding);
        Ok(Some((self.line, RawLine::Text(text))))
    }
}

/// Decodes one line: UTF-8 when valid, Windows-1252 otherwise.
pub(crate) fn decode(bytes: &[u8]) -> (String, Encoding) {
    if bytes.is_ascii() {
        return (String::from_utf8_lossy(bytes).into_owned(), Encoding::Ascii);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), Encoding::Utf8),
        Err(_) => (decode_windows_1252(bytes), Encoding::Windows1252),
    }
}

/// Windows-1252 as the WHATWG Encoding Standard defines it (which is also what "ISO-8859-1"
/// means on the web): ISO-8859-1 plus printable characters in 0x80–0x9F; the five unassigned
/// bytes of that range map to the C1 control of the same value.
pub(crate) fn decode_windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}',
        '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}',
        '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// Why a line could not be split into cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// A quoted cell has no closing quote on the line.
    Unterminated {
        /// 1-based cell number.
        cell: usize,
    },
    /// Something other than the separator follows a closing quote.
    AfterQuote {
        /// 1-based cell number.
        cell: usize,
    },
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SplitError::Unterminated { cell } => {
                write!(f, "cell {cell}: quoted value not closed on this line")
            }
            SplitError::AfterQuote { cell } => {
                write!(f, "cell {cell}: text after the closing quote")
            }
        }
    }
}

/// Splits a line into cells on `sep`, RFC 4180 style: a cell that starts with `"` runs to the
/// next lone `"`, and `""` inside it is one quote; a quote inside an unquoted cell is kept as
/// is. Spaces and tabs around a cell are removed.
pub(crate) fn split_cells(line: &str, sep: char) -> Result<Vec<String>, SplitError> {
    let mut cells = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let cell_no = cells.len() + 1;
        let mut cell = String::new();
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(SplitError::Unterminated { cell: cell_no }),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        cell.push('"');
                    }
                    Some('"') => break,
                    Some(c) => cell.push(c),
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    cells.push(cell);
                    return Ok(cells);
                }
                Some(c) if c == sep => cells.push(cell),
                Some(_) => return Err(SplitError::AfterQuote { cell: cell_no }),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        cells.push(cell.trim_end_matches([' ', '\t']).to_owned());
                        return Ok(cells);
                    }
                    Some(c) if c == sep => break,
                    Some(c) => cell.push(c),
                }
            }
            cells.push(cell.trim_end_matches([' ', '\t']).to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(input: &[u8], max: usize) -> Vec<(u64, RawLine)> {
        let mut r = LineReader::with_limit(input, max);
        let mut out = Vec::new();
        while let Ok(Some(l)) = r.next_line() {
            out.push(l);
        }
        out
    }

    fn text(s: &str) -> RawLine {
        RawLine::Text(s.to_owned())
    }

    #[test]
    fn lines_are_numbered_and_line_ends_removed() {
        assert_eq!(
            lines(b"a\r\nb\n\nc", 100),
            vec![
                (1, text("a")),
                (2, text("b")),
                (3, text("")),
                (4, text("c"))
            ]
        );
        assert_eq!(lines(b"", 100), vec![]);
        assert_eq!(lines(b"\xEF\xBB\xBFx;y\n", 100), vec![(1, text("x;y"))]);
    }

    #[test]
    fn an_overlong_line_is_skipped_alone() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 50));
        input.extend(b"\nnext\n");
        assert_eq!(
            lines(&input, 10),
            vec![(1, text("ok")), (2, RawLine::TooLong), (3, text("next"))]
        );
    }

    #[test]
    fn encodings_are_told_apart_per_line() {
        let mut r = LineReader::new(&b"abc\nR\xC3\xA9union\n"[..]);
        assert!(matches!(r.next_line(), Ok(Some((1, _)))));
        assert_eq!(r.encoding(), Encoding::Ascii);
        assert_eq!(r.next_line().ok().flatten(), Some((2, text("Réunion"))));
        assert_eq!(r.encoding(), Encoding::Utf8);

        let mut r = LineReader::new(&b"R\xE9union \x80 \x92\n"[..]);
        assert_eq!(r.next_line().ok().flatten(), Some((1, text("Réunion € ’"))));
        assert_eq!(r.encoding(), Encoding::Windows1252);
        assert_eq!(
            Encoding::Utf8.with(Encoding::Windows1252),
            Encoding::Mixed,
            "a file mixing both is reported"
        );
    }

    #[test]
    fn windows_1252_covers_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_windows_1252(&all).chars().count(), 256);
        assert_eq!(decode_windows_1252(b"\x9C\xFF\x81"), "œÿ\u{81}");
    }

    #[test]
    fn cells_follow_rfc_4180_quoting() {
        assert_eq!(
            split_cells("a;b;;c;", ';'),
            Ok(vec!["a", "b", "", "c", ""]
                .into_iter()
                .map(String::from)
                .collect())
        );
        assert_eq!(
            split_cells(r#"x;"LIEU DE VIE ""MAVOUNA MEMA 1""";y"#, ';'),
            Ok(vec![
                "x".to_owned(),
                r#"LIEU DE VIE "MAVOUNA MEMA 1""#.to_owned(),
                "y".to_owned()
            ])
        );
        assert_eq!(
            split_cells(r#"a;"b;c";d"#, ';'),
            Ok(vec!["a".to_owned(), "b;c".to_owned(), "d".to_owned()])
        );
        assert_eq!(
            split_cells(r#"a;B"C;d"#, ';'),
            Ok(vec!["a".to_owned(), r#"B"C"#.to_owned(), "d".to_owned()]),
            "a quote inside an unquoted cell is data"
        );
        assert_eq!(
            split_cells(r#"a;"open"#, ';'),
            Err(SplitError::Unterminated { cell: 2 })
        );
        assert_eq!(
            split_cells(r#"a;"x"y;b"#, ';'),
            Err(SplitError::AfterQuote { cell: 2 })
        );
        assert_eq!(
            split_cells("  a  ; b", ';'),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
    }

    proptest! {
        #[test]
        fn splitting_never_panics(line in ".{0,200}") {
            let _ = split_cells(&line, ';');
        }

        #[test]
        fn unquoted_cells_round_trip(cells in proptest::collection::vec("[^;\"\r\n \t]{0,12}", 1..40)) {
            let line = cells.join(";");
            prop_assert_eq!(split_cells(&line, ';'), Ok(cells));
        }

        #[test]
        fn quoted_cells_round_trip(cells in proptest::collection::vec("[^\r\n]{0,12}", 1..20)) {
            let cells: Vec<String> = cells.into_iter().map(|c| c.trim_matches([' ', '\t']).to_owned()).collect();
            let line = cells
                .iter()
                .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(";");
            prop_assert_eq!(split_cells(&line, ';'), Ok(cells));
        }

        #[test]
        fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut r = LineReader::with_limit(bytes.as_slice(), 64);
            let mut n = 0;
            while let Ok(Some((line, _))) = r.next_line() {
                n += 1;
                prop_assert_eq!(line, n);
            }
        }
    }
}
