//! The emptied blocks that the consumers of a two-lock queue hand back to
//! its producers (see "Recycling blocks" in `queue/two_lock.rs`).
//!
//! A ring of up to [`SPARES`] block pointers with one writer and one
//! reader: only the consumer side keeps blocks (under its `head` lock) and
//! only the producer side reuses them (under its `tail` lock), so the ring
//! needs no lock and no read-modify-write, only two counters, each written
//! by one side.

use crate::loom::CachePadded;
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// How many emptied blocks a queue keeps for reuse at most (about 64 KiB
/// of `u64` slots), see "Recycling blocks" in `queue/two_lock.rs` for the
/// measurements. Two under loom, so that the models fill the ring.
#[cfg(not(loom))]
pub(crate) const SPARES: usize = 32;
#[cfg(loom)]
pub(crate) const SPARES: usize = 2;

/// ... and fewer if they would take more memory than this: a queue of
/// large items keeps as many blocks as fit, but always one.
const SPARE_BYTES: usize = 128 * 1024;

pub(crate) struct Spares<B> {
    /// Blocks ever kept. Written only by the keeping (consumer) side.
    kept: CachePadded<AtomicUsize>,
    /// Blocks ever reused. Written only by the reusing (producer) side.
    reused: CachePadded<AtomicUsize>,
    /// Slot `n % SPARES` holds the `n`th kept block while
    /// `reused <= n < kept`.
    ring: [AtomicPtr<B>; SPARES],
    /// How many blocks may be kept at once: `SPARES`, or fewer for large
    /// blocks (`SPARE_BYTES`).
    limit: usize,
}

impl<B> Spares<B> {
    pub(crate) fn new() -> Self {
        Spares {
            kept: CachePadded::new(AtomicUsize::new(0)),
            reused: CachePadded::new(AtomicUsize::new(0)),
            ring: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            limit: (SPARE_BYTES / size_of::<B>().max(1)).clamp(1, SPARES),
        }
    }

    /// Keeps `block` for reuse, or gives it back if the ring is full (the
    /// caller frees it). Everything the caller did to the block before
    /// happens before the reuser's accesses to it.
    ///
    /// # Safety
    /// No other thread calls `keep` meanwhile (the caller holds the
    /// consumers' lock, or `&mut` the queue), and the caller owns `block`:
    /// no one else can reach it.
    #[inline]
    pub(crate) unsafe fn keep(&self, block: *mut B) -> Result<(), *mut B> {
        // Our own counter: only keepers write it, and they are serialized.
        let kept = self.kept.load(Ordering::Relaxed);
        // Acquire: pairs with `reuse`'s Release, so its read of the slot we
        // may overwrite below happened before our store.
        let reused = self.reused.load(Ordering::Acquire);
        if kept - reused >= self.limit {
            return Err(block);
        }
        self.ring[kept % SPARES].store(block, Ordering::Relaxed);
        // Release: publishes the slot and the block's contents to `reuse`.
        let publish = if cfg!(feature = "_broken_spares_unpublished") {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        self.kept.store(kept + 1, publish);
        Ok(())
    }

    /// A kept block, now owned by the caller; `None` if there is none.
    ///
    /// # Safety
    /// No other thread calls `reuse` meanwhile (the caller holds the
    /// producers' lock, or `&mut` the queue).
    #[inline]
    pub(crate) unsafe fn reuse(&self) -> Option<*mut B> {
        let reused = self.reused.load(Ordering::Relaxed);
        // Acquire: pairs with `keep`'s Release (the slot and the block).
        if self.kept.load(Ordering::Acquire) == reused {
            return None;
        }
        let block = self.ring[reused % SPARES].load(Ordering::Relaxed);
        // Release: our read of the slot happens before a `keep` that sees
        // this count overwrites it.
        self.reused.store(reused + 1, Ordering::Release);
        Some(block)
    }

    /// Takes every kept block, for the queue's `Drop`.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = *mut B> + '_ {
        // SAFETY: `&mut self`: no other thread keeps or reuses.
        std::iter::from_fn(move || unsafe { self.reuse() })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn reuses_in_the_order_kept_and_refuses_when_full() {
        let mut blocks: Vec<Box<u32>> = (0..SPARES as u32 + 1).map(Box::new).collect();
        let ptrs: Vec<*mut u32> = blocks.iter_mut().map(|b| &mut **b as *mut u32).collect();
        let mut spares = Spares::new();
        // SAFETY: one thread; the pointers are ours and stay valid.
        unsafe {
            assert_eq!(spares.reuse(), None);
            for &p in &ptrs[..SPARES] {
                assert_eq!(spares.keep(p), Ok(()));
            }
            assert_eq!(spares.keep(ptrs[SPARES]), Err(ptrs[SPARES]), "full: given back");
            assert_eq!(spares.reuse(), Some(ptrs[0]));
            // Room for one again, at the slot just read.
            assert_eq!(spares.keep(ptrs[SPARES]), Ok(()));
        }
        let rest: Vec<*mut u32> = spares.drain().collect();
        assert_eq!(rest, ptrs[1..].to_vec());
        // SAFETY: as above.
        assert_eq!(unsafe { spares.reuse() }, None);
    }

    #[test]
    fn keeps_fewer_large_blocks() {
        type Large = [u64; 6000]; // 48,000 bytes: two fit in SPARE_BYTES
        let mut blocks: Vec<Box<Large>> = (0..3).map(|_| Box::new([0; 6000])).collect();
        let ptrs: Vec<*mut Large> = blocks.iter_mut().map(|b| &mut **b as *mut Large).collect();
        let mut spares = Spares::new();
        // SAFETY: one thread; the pointers are ours and stay valid.
        unsafe {
            assert_eq!(spares.keep(ptrs[0]), Ok(()));
            assert_eq!(spares.keep(ptrs[1]), Ok(()));
            assert_eq!(spares.keep(ptrs[2]), Err(ptrs[2]), "128 KiB kept: given back");
        }
        assert_eq!(spares.drain().count(), 2);

        // A block larger than the limit alone is still kept, one at a time.
        let mut huge = Box::new([0u8; 200_000]);
        let mut other = Box::new([0u8; 200_000]);
        let mut spares = Spares::new();
        // SAFETY: as above.
        unsafe {
            assert_eq!(spares.keep(&mut *huge), Ok(()));
            assert_eq!(spares.keep(&mut *other), Err(&mut *other as *mut _));
        }
        assert_eq!(spares.drain().count(), 1);
    }
}
