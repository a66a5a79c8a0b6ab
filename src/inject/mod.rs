//! The injector engine.
