//! Lock ordering keys (the foundation for ordered multi-lock `acquire`).

use std::fmt;

use crate::loom::fresh_id;

/// A lock's position in the global lock order, fixed when the lock is
/// created: locks created earlier have lower keys, in every thread and every
/// run. Opaque: compare keys, print them, but do not rely on their values.
///
/// # Examples
///
/// ```
/// use threadkit::Lock;
///
/// let first = Lock::new(());
/// let second = Lock::new(());
/// assert!(first.key() < second.key());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockKey(u64);

impl fmt::Debug for LockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockKey({})", self.0)
    }
}

impl LockKey {
    /// The key as a number: distinct for every lock, never reused.
    pub(crate) fn to_bits(self) -> u64 {
        self.0
    }
}

/// A `LockKey` stored as bytes, so that it adds exactly 8 bytes and no
/// padding to a `Lock<()>` (whose raw lock is one byte).
#[derive(Clone, Copy)]
pub(crate) struct StoredKey([u8; 8]);

impl StoredKey {
    /// A key above every key handed out before.
    pub(crate) fn fresh() -> Self {
        StoredKey(fresh_id().to_ne_bytes())
    }

    #[inline]
    pub(crate) fn get(self) -> LockKey {
        LockKey(u64::from_ne_bytes(self.0))
    }
}

// ---- acquire: stub until the ordered-acquire issue lands ----
/// A set of locks `acquire` can take (being written).
pub trait LockSet {}
/// Guards from `acquire` (being written).
#[derive(Debug)]
pub struct Ordered<G>(G);
/// Takes a set of locks in the global order (being written).
pub fn acquire<S: LockSet>(_locks: S) -> Result<Ordered<()>, crate::LockOrderError> {
    unimplemented!()
}
