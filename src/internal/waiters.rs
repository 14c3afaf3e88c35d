//! WaitQueue: to be written.
