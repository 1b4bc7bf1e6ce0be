//! FxHash (rustc's hash) for the maps read once per event: a rule's exact literals, EventData
//! names. Their keys are short, and fixed (the rules') or bounded (names), so SipHash's protection
//! against chosen keys buys nothing while costing a tenth of a route's scan; an event's text only
//! looks keys up, and a lookup probes the fixed table whatever the text hashes to.

use std::hash::{BuildHasherDefault, Hasher};

pub type FxBuild = BuildHasherDefault<Fx>;

#[derive(Default)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap()));
        }
        for &byte in chunks.remainder() {
            self.add(byte as u64);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}
