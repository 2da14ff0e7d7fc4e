//! Authentication: the [`Authenticator`] trait and the built-in mechanisms.
