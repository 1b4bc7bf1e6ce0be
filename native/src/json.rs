//! A normalized event read straight from its JSON bytes, for the detector's hot path: the
//! route's fields are looked up in a small tree of offsets into the bytes, so an event that no
//! rule matches is never turned into Python objects (orjson's dicts and strings were half of the
//! detector's time per event).
//!
//! The reader accepts only what orjson reads, and reads it the same way for every value the
//! rules can see: a string (escapes decoded), null, an integer within i64. Anything else a rule
//! could read — a float, a bool, a list, an integer past i64 — is `Other`, and the route hands
//! such an event to the Python engine, as it does for the same values in a dict. A document
//! orjson might read differently (invalid JSON or UTF-8, a lone surrogate escape, nesting past
//! MAX_DEPTH, a root that is not an object, a top-level key holding a dotted name) is refused
//! whole: `parse` returns None and the caller decodes it with orjson.

use memchr::memchr;
use std::borrow::Cow;

/// Deeper documents are left to orjson (whose own limit is 1,024); no normalized event nests this deep.
const MAX_DEPTH: usize = 64;

/// Ranges are packed in 30 bits: a bigger document is left to orjson (events are capped far lower).
const SPAN_BITS: u32 = 30;
const SPAN_MASK: u64 = (1 << SPAN_BITS) - 1;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Null,
    /// an integer literal within i64
    Int,
    /// a string without escapes
    Raw,
    /// a string with escapes, decoded when read
    Escaped,
    /// members[start..end], in document order (a repeated key: the last one is the value, as in a dict)
    Object,
    /// a float, bool, list or integer past i64: a value the native route does not read
    Other,
}

const KINDS: [Kind; 6] = [
    Kind::Null,
    Kind::Int,
    Kind::Raw,
    Kind::Escaped,
    Kind::Object,
    Kind::Other,
];

/// A value: its kind and a range — of the input for strings and numbers, of `Doc::members` for
/// objects — in one u64, so the parser returns it in a register (an enum holding two u32s went
/// through the stack and stalled the parser on every return).
#[derive(Clone, Copy)]
pub struct Node(u64);

impl Node {
    #[inline]
    fn new(kind: Kind, start: usize, end: usize) -> Node {
        Node((kind as u64) << (2 * SPAN_BITS) | (start as u64) << SPAN_BITS | end as u64)
    }

    #[inline]
    pub fn kind(self) -> Kind {
        KINDS[(self.0 >> (2 * SPAN_BITS)) as usize]
    }

    #[inline]
    fn range(self) -> std::ops::Range<usize> {
        ((self.0 >> SPAN_BITS) & SPAN_MASK) as usize..(self.0 & SPAN_MASK) as usize
    }
}

const NULL: Node = Node(0);
const OTHER: Node = Node((Kind::Other as u64) << (2 * SPAN_BITS));

/// A value as the native route reads it.
pub enum View<'a> {
    Null,
    Int(i64),
    Str(Cow<'a, str>),
    Object,
    Other,
}

pub struct Member {
    key: Node,
    value: Node,
}

pub struct Doc {
    members: Vec<Member>,
    pub root: Node,
}

impl Doc {
    pub fn view<'a>(&self, input: &'a [u8], node: Node) -> View<'a> {
        match node.kind() {
            Kind::Null => View::Null,
            // checked to fit by Parser::number
            Kind::Int => View::Int(text(input, node).parse().unwrap_or_default()),
            Kind::Raw | Kind::Escaped => View::Str(text(input, node)),
            Kind::Object => View::Object,
            Kind::Other => View::Other,
        }
    }

    /// The keys and values of `object` (an Object node) in document order, repeated keys included;
    /// nothing for another node.
    pub fn members<'a>(
        &'a self,
        input: &'a [u8],
        object: Node,
    ) -> impl Iterator<Item = (Cow<'a, str>, Node)> + 'a {
        let members = if object.kind() == Kind::Object {
            &self.members[object.range()]
        } else {
            &[]
        };
        members.iter().map(move |m| (text(input, m.key), m.value))
    }

    /// The value under `key` in `object` (an Object node); None when missing or not an object.
    pub fn get(&self, input: &[u8], object: Node, key: &str) -> Option<Node> {
        if object.kind() != Kind::Object {
            return None;
        }
        self.members[object.range()]
            .iter()
            .rev()
            .find(|m| match m.key.kind() {
                Kind::Raw => {
                    // length and first byte first: most keys differ there, and a memcmp call costs more
                    let (range, key) = (m.key.range(), key.as_bytes());
                    range.len() == key.len()
                        && key.first().is_none_or(|&b| input[range.start] == b)
                        && &input[range] == key
                }
                _ => text(input, m.key) == key,
            })
            .map(|m| m.value)
    }
}

/// The text of a string or number node.
fn text(input: &[u8], node: Node) -> Cow<'_, str> {
    let bytes = &input[node.range()];
    if node.kind() == Kind::Escaped {
        Cow::Owned(unescape(bytes))
    } else {
        // parse() checked that the input is UTF-8 and cut ranges at ASCII bytes only
        Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) })
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    members: Vec<Member>,
    pending: Vec<Member>,
}

/// The document, or None when it must be read by orjson (see the module's comment).
pub fn parse(input: &[u8]) -> Option<Doc> {
    std::str::from_utf8(input).ok()?;
    if input.len() as u64 > SPAN_MASK {
        return None;
    }
    let mut parser = Parser {
        input,
        pos: 0,
        members: Vec::with_capacity(64),
        pending: Vec::with_capacity(64),
    };
    parser.skip_space();
    let root = parser.value(0)?;
    parser.skip_space();
    if parser.pos != input.len() {
        return None;
    }
    if root.kind() != Kind::Object {
        return None;
    }
    // A top-level key holding a dotted name overrides the nested path (rules/context.py lookup).
    if parser.members[root.range()]
        .iter()
        .any(|m| text(input, m.key).contains('.'))
    {
        return None;
    }
    Some(Doc {
        members: parser.members,
        root,
    })
}

impl Parser<'_> {
    #[inline]
    fn skip_space(&mut self) {
        while let Some(&b) = self.input.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        (self.input.get(self.pos) == Some(&byte)).then(|| self.pos += 1)
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        match *self.input.get(self.pos)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string(),
            b'n' => self.word(b"null", NULL),
            b't' => self.word(b"true", OTHER),
            b'f' => self.word(b"false", OTHER),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn word(&mut self, word: &[u8], node: Node) -> Option<Node> {
        let end = self.pos + word.len();
        (self.input.get(self.pos..end)? == word).then(|| {
            self.pos = end;
            node
        })
    }

    fn object(&mut self, depth: usize) -> Option<Node> {
        self.pos += 1; // '{'
        let first = self.pending.len();
        self.skip_space();
        if self.input.get(self.pos) == Some(&b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_space();
                if self.input.get(self.pos) != Some(&b'"') {
                    return None;
                }
                let key = self.string()?;
                self.eat(b':')?;
                self.skip_space();
                let value = self.value(depth + 1)?;
                self.pending.push(Member { key, value });
                self.skip_space();
                match self.input.get(self.pos)? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        // Nested objects were moved out before this one's members were pushed: they are contiguous.
        let start = self.members.len();
        self.members.extend(self.pending.drain(first..));
        Some(Node::new(Kind::Object, start, self.members.len()))
    }

    fn array(&mut self, depth: usize) -> Option<Node> {
        self.pos += 1; // '['
        self.skip_space();
        if self.input.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Some(OTHER);
        }
        loop {
            self.skip_space();
            self.value(depth + 1)?;
            self.skip_space();
            match self.input.get(self.pos)? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(OTHER);
                }
                _ => return None,
            }
        }
    }

    fn number(&mut self) -> Option<Node> {
        let start = self.pos;
        let input = self.input;
        let digits = |mut at: usize| {
            while input.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            at
        };
        let mut at = start + usize::from(input[start] == b'-');
        match input.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => at = digits(at),
            _ => return None,
        }
        let mut integer = true;
        if input.get(at) == Some(&b'.') {
            let end = digits(at + 1);
            if end == at + 1 {
                return None;
            }
            (at, integer) = (end, false);
        }
        if matches!(input.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(input.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            let end = digits(at);
            if end == at {
                return None;
            }
            (at, integer) = (end, false);
        }
        self.pos = at;
        if !integer {
            return Some(OTHER);
        }
        if at - start < 18 {
            return Some(Node::new(Kind::Int, start, at)); // fits in i64
        }
        // ASCII digits: valid UTF-8
        let text = unsafe { std::str::from_utf8_unchecked(&input[start..at]) };
        if text.parse::<i64>().is_ok() {
            Some(Node::new(Kind::Int, start, at))
        } else {
            // orjson reads integers up to u64 (and past either end as floats: left to it)
            text.parse::<u64>().ok().map(|_| OTHER)
        }
    }

    /// A string's range; escapes are checked here and decoded only when the text is read
    /// (`Doc::text`): Windows paths are full of them and most strings are never read.
    #[inline(always)]
    fn string(&mut self) -> Option<Node> {
        let start = self.pos + 1; // after '"'
        let input = self.input;
        let mut at = start;
        let mut escaped = false;
        loop {
            // eight bytes at a time to the next quote, backslash or control character
            while let Some(word) = input.get(at..at + 8) {
                let found = special_bytes(u64::from_le_bytes(word.try_into().unwrap()));
                if found != 0 {
                    at += found.trailing_zeros() as usize / 8;
                    break;
                }
                at += 8;
            }
            let byte = *input.get(at)?;
            if !SPECIAL[byte as usize] {
                at += 1;
                continue;
            }
            match byte {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    at += 2 + escape_length(input, at)?;
                }
                _ => return None, // a raw control character
            }
        }
        self.pos = at + 1;
        let kind = if escaped { Kind::Escaped } else { Kind::Raw };
        Some(Node::new(kind, start, at))
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `word` that is a quote, a backslash or below 0x20 (exact up to
/// the lowest such byte, which is all the caller reads: the classic has-zero-byte bit trick).
#[inline]
fn special_bytes(word: u64) -> u64 {
    let quote = word ^ (ONES * b'"' as u64);
    let backslash = word ^ (ONES * b'\\' as u64);
    ((quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (word.wrapping_sub(ONES * 0x20) & !word))
        & (ONES * 0x80)
}

/// Bytes that end a run of plain string text: the quote, the backslash, control characters.
static SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The bytes after `\\x` of the escape at `at` (4 for `\\uXXXX`, 10 for a surrogate pair),
/// None for an invalid escape or a lone surrogate.
fn escape_length(input: &[u8], at: usize) -> Option<usize> {
    match *input.get(at + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(0),
        b'u' => unicode_escape(input, at + 2).map(|(_, used)| used),
        _ => None,
    }
}

/// The text of an escaped string's range (checked by Parser::string).
fn unescape(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len());
    let mut at = 0;
    while at < input.len() {
        let Some(found) = memchr(b'\\', &input[at..]) else {
            // runs between escapes of UTF-8 input, cut at ASCII bytes
            out.push_str(unsafe { std::str::from_utf8_unchecked(&input[at..]) });
            break;
        };
        out.push_str(unsafe { std::str::from_utf8_unchecked(&input[at..at + found]) });
        let escape = at + found;
        at = escape + 2;
        match input[escape + 1] {
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let (c, used) = unicode_escape(input, escape + 2).unwrap_or(('\u{fffd}', 4));
                out.push(c);
                at += used;
            }
            other => out.push(other as char), // '"', '\\', '/'
        }
    }
    out
}

/// `XXXX` or a surrogate pair `XXXX\uYYYY` at `at`: the character and the bytes used. A lone
/// surrogate is refused (a Python str would hold it; the native route refuses those too).
fn unicode_escape(input: &[u8], at: usize) -> Option<(char, usize)> {
    let hex = |at: usize| -> Option<u32> {
        let digits = input.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    };
    let first = hex(at)?;
    if !(0xD800..0xE000).contains(&first) {
        return Some((char::from_u32(first)?, 4));
    }
    if first >= 0xDC00 || input.get(at + 4..at + 6)? != b"\\u" {
        return None;
    }
    let second = hex(at + 6)?;
    if !(0xDC00..0xE000).contains(&second) {
        return None;
    }
    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
    Some((char::from_u32(code)?, 10))
}
