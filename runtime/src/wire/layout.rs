//! Where each argument sits in the scalar area: one rule, shared by the
//! writer, the reader and the router.
//!
//! Arguments are laid out in spec order, each at the next offset that is a
//! multiple of its alignment; the area is padded to 16 bytes. Because the
//! rule only depends on the sequence of slot kinds, the code generator and a
//! router that reads the spec compute the same offsets independently.

#![forbid(unsafe_code)]

/// Alignment of the whole scalar area (and so of the data area after it).
pub const SCALAR_AREA_ALIGN: u32 = 16;
/// Size of a buffer descriptor in the scalar area.
pub const BUFFER_DESCRIPTOR_LEN: u32 = 32;

/// The kind of one argument's slot. Signed integers, floats, booleans and
/// handle ids use the slot of their width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    U8,
    U16,
    U32,
    U64,
    /// 16 bytes, 8-aligned: low 64 bits first (contract hashes).
    U128,
    /// A 32-byte buffer descriptor (kind, offset, length, key).
    Buffer,
}

impl Slot {
    /// Bytes the slot occupies.
    pub const fn size(self) -> u32 {
        match self {
            Slot::U8 => 1,
            Slot::U16 => 2,
            Slot::U32 => 4,
            Slot::U64 => 8,
            Slot::U128 => 16,
            Slot::Buffer => BUFFER_DESCRIPTOR_LEN,
        }
    }

    /// Alignment of the slot's offset. Never more than 8, so the reader and
    /// writer need no alignment of their own buffers.
    pub const fn align(self) -> u32 {
        match self {
            Slot::U8 => 1,
            Slot::U16 => 2,
            Slot::U32 => 4,
            Slot::U64 | Slot::U128 | Slot::Buffer => 8,
        }
    }
}

/// `value` rounded up to a multiple of `align` (a power of two), or `None`
/// on overflow.
pub const fn align_up(value: u64, align: u64) -> Option<u64> {
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// Computes slot offsets one argument at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    end: u32,
}

impl Layout {
    /// An empty layout.
    pub fn new() -> Layout {
        Layout::default()
    }

    /// Places `slot` after the previous ones and returns its offset.
    ///
    /// # Panics
    ///
    /// If the scalar area would pass 4 GiB: the layout comes from the
    /// (trusted) spec, and no function has that many arguments.
    pub fn push(&mut self, slot: Slot) -> u32 {
        let offset = align_up(self.end.into(), slot.align().into()).expect("scalar area overflow");
        let end = offset + u64::from(slot.size());
        self.end = u32::try_from(end).expect("scalar area larger than 4 GiB");
        offset as u32
    }

    /// Length of the scalar area so far, padded to [`SCALAR_AREA_ALIGN`].
    pub fn scalar_len(&self) -> u32 {
        align_up(self.end.into(), SCALAR_AREA_ALIGN.into()).and_then(|v| u32::try_from(v).ok()).expect("scalar area larger than 4 GiB")
    }

    /// The offsets of `slots` and the scalar area length, in one go.
    pub fn of(slots: &[Slot]) -> (Vec<u32>, u32) {
        let mut layout = Layout::new();
        let offsets = slots.iter().map(|s| layout.push(*s)).collect();
        (offsets, layout.scalar_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_in_order_and_the_area_padded() {
        let (offsets, len) = Layout::of(&[Slot::U8, Slot::U32, Slot::U16, Slot::U64, Slot::Buffer, Slot::U8, Slot::U128]);
        assert_eq!(offsets, vec![0, 4, 8, 16, 24, 56, 64]);
        assert_eq!(len, 80);
        assert_eq!(Layout::of(&[]).1, 0);
        assert_eq!(Layout::of(&[Slot::U8]).1, 16);
    }

    #[test]
    fn align_up_reports_overflow() {
        assert_eq!(align_up(17, 8), Some(24));
        assert_eq!(align_up(u64::MAX, 8), None);
    }
}
