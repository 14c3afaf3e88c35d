//! Every public error type of the crate.
//!
//! Errors that reject an item carry it back (`into_inner()`), implement
//! `Debug` without requiring `T: Debug` (so `unwrap()` works on any
//! payload), `Display`, and `std::error::Error`.

use std::error::Error;
use std::fmt;

use crate::ordered::LockKey;

/// The queue has been shut down. Returned by [`Queue::put`](crate::Queue::put)
/// (with the rejected item, see [`into_inner`](ShutDown::into_inner)) and by
/// [`Queue::get`](crate::Queue::get) / [`Queue::get_task`](crate::Queue::get_task)
/// once a shut-down queue is empty (`ShutDown<()>`).
///
/// # Examples
///
/// ```
/// use threadkit::Queue;
///
/// let q = Queue::new();
/// q.shutdown();
/// let err = q.put("late").unwrap_err();
/// assert_eq!(err.into_inner(), "late");
/// assert!(q.get().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutDown<T = ()>(pub T);

impl<T> ShutDown<T> {
    /// Gives back the item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = threadkit::ShutDown(7);
    /// assert_eq!(e.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for ShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShutDown(..)")
    }
}

impl<T> fmt::Display for ShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue has been shut down")
    }
}

impl<T> Error for ShutDown<T> {}

/// Why a non-blocking or timed put failed. Both variants carry the item back.
///
/// # Examples
///
/// ```
/// use threadkit::{PutError, Queue};
///
/// let q = Queue::bounded(1);
/// q.put(1).unwrap();
/// match q.try_put(2) {
///     Err(PutError::Full(item)) => assert_eq!(item, 2),
///     other => panic!("expected Full, got {other:?}"),
/// }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PutError<T> {
    /// The queue stayed full (no room before the timeout, or none at once).
    Full(T),
    /// The queue has been shut down (checked before fullness).
    ShutDown(T),
}

impl<T> PutError<T> {
    /// Gives back the item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::PutError::Full(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(item) | PutError::ShutDown(item) => item,
        }
    }

    /// Whether the queue was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::PutError::Full(()).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, PutError::Full(_))
    }

    /// Whether the queue was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(threadkit::PutError::ShutDown(()).is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        matches!(self, PutError::ShutDown(_))
    }
}

impl<T> From<ShutDown<T>> for PutError<T> {
    fn from(err: ShutDown<T>) -> Self {
        PutError::ShutDown(err.0)
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("the queue is full"),
            PutError::ShutDown(_) => f.write_str("the queue has been shut down"),
        }
    }
}

impl<T> Error for PutError<T> {}

/// Why a non-blocking or timed get failed.
///
/// # Examples
///
/// ```
/// use threadkit::{GetError, Queue};
///
/// let q: Queue<u8> = Queue::new();
/// assert_eq!(q.try_get(), Err(GetError::Empty));
/// q.shutdown();
/// assert_eq!(q.try_get(), Err(GetError::ShutDown));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GetError {
    /// The queue stayed empty (nothing before the timeout, or nothing at once).
    Empty,
    /// The queue has been shut down and has no items left.
    ShutDown,
}

impl From<ShutDown> for GetError {
    fn from(_: ShutDown) -> Self {
        GetError::ShutDown
    }
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str("the queue is empty"),
            GetError::ShutDown => f.write_str("the queue has been shut down and is empty"),
        }
    }
}

impl Error for GetError {}

/// [`Queue::task_done`](crate::Queue::task_done) was called more times than
/// items were put. Nothing was changed.
///
/// # Examples
///
/// ```
/// let q: threadkit::Queue<u8> = threadkit::Queue::new();
/// assert!(q.task_done().is_err());
/// assert_eq!(q.unfinished_tasks(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than there were items put")
    }
}

impl Error for TaskDoneError {}

/// [`acquire`](crate::acquire) refused a set of locks because taking them
/// could deadlock: the lowest-ordered lock requested is not above every
/// lock this thread already holds through `acquire`, or the same `Lock` was
/// named twice. Nothing was taken and the thread's state is unchanged.
///
/// # Examples
///
/// ```
/// use threadkit::{Lock, acquire};
///
/// let a = Lock::new(1);
/// let b = Lock::new(2);
/// let outer = acquire((&b,)).unwrap();
/// let err = acquire((&a,)).unwrap_err();   // `a` is ordered before `b`
/// assert_eq!(err.held(), &[b.key()]);
/// assert_eq!(err.requested(), &[a.key()]);
/// // The message names both locks.
/// let msg = err.to_string();
/// assert!(msg.contains(&format!("cannot take {:?} while holding {:?}", a.key(), b.key())));
/// drop(outer);
/// assert!(acquire((&a,)).is_ok());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LockOrderError {
    pub(crate) held: Box<[LockKey]>,
    pub(crate) requested: Box<[LockKey]>,
    pub(crate) conflict: Conflict,
}

/// Which rule a refused [`acquire`](crate::acquire) call broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Conflict {
    /// `lowest`, the lowest-ordered lock requested (leaving out `RLock`s
    /// this thread already owns), is not above `highest_held`, the
    /// highest-ordered lock this thread holds through `acquire`.
    Order { lowest: LockKey, highest_held: LockKey },
    /// This non-reentrant `Lock` was named more than once.
    Duplicate(LockKey),
}

impl LockOrderError {
    /// The locks this thread already held through `acquire` when the call
    /// was refused, lowest key first (which is the order they were taken
    /// in, since `acquire` only goes up the order): one entry per lock per
    /// live [`Ordered`](crate::Ordered) that holds it, so an `RLock`
    /// re-entered through a second call appears twice. Locks taken directly
    /// with `.lock()` are not listed.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{Lock, acquire};
    /// let l = Lock::new(());
    /// let _g = acquire((&l,)).unwrap();
    /// assert_eq!(acquire((&l,)).unwrap_err().held(), &[l.key()]);
    /// ```
    pub fn held(&self) -> &[LockKey] {
        &self.held
    }

    /// The locks of the refused call, in the order the caller named them
    /// (all of them, including `RLock`s left out of the check because this
    /// thread already owns them).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{Lock, acquire};
    /// let l = Lock::new(());
    /// let err = acquire((&l, &l)).unwrap_err();
    /// assert_eq!(err.requested(), &[l.key(), l.key()]);
    /// ```
    pub fn requested(&self) -> &[LockKey] {
        &self.requested
    }
}

impl fmt::Debug for LockOrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockOrderError")
            .field("held", &self.held)
            .field("requested", &self.requested)
            .field("conflict", &self.conflict)
            .finish()
    }
}

impl fmt::Display for LockOrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.conflict {
            Conflict::Order { lowest, highest_held } => write!(
                f,
                "lock order violation: cannot take {lowest:?} while holding {highest_held:?} \
                 (requested {:?}, held through acquire {:?}); every lock requested must be \
                 above every lock held",
                self.requested, self.held
            ),
            Conflict::Duplicate(key) => write!(
                f,
                "lock order violation: the Lock {key:?} is named twice in one call \
                 (requested {:?}, held through acquire {:?}); taking it twice would deadlock",
                self.requested, self.held
            ),
        }
    }
}

impl Error for LockOrderError {}
